/**
 * The `leasehold` command of this repository (the built sidecar, as a user runs it). A path,
 * not an import: the kit never loads the sidecar's code; tests and the chaos suite start it.
 * The same from the kit's src/ and dist/.
 */
export const SIDECAR_BIN = new URL('../../sidecar/bin/leasehold.js', import.meta.url).pathname;

/** The command line of a sidecar, `leasehold` or `leasehold run … -- <command…>`, on port 0. */
export function sidecarArgv(
  store: string,
  election: string,
  id: string,
  args: readonly string[],
  command?: readonly string[],
): string[] {
  return [
    process.execPath,
    SIDECAR_BIN,
    ...(command === undefined ? [] : ['run']),
    ...['--store', store, '--election', election, '--id', id, '--port', '0'],
    ...args,
    ...(command === undefined ? [] : ['--', ...command]),
  ];
}
