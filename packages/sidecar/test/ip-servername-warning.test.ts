import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A TLS connection named by an IP address, as etcd's client makes for `etcds://127.0.0.1`,
 * in a Node process of its own: with the sidecar's filter, no DEP0123; other warnings print.
 */
const FILTER = fileURLToPath(new URL('../dist/config/ip-servername-warning.js', import.meta.url));
const SCRIPT = `
  const { dropIpServernameWarning } = await import(${JSON.stringify(FILTER)});
  if (process.argv[1] === 'filtered') dropIpServernameWarning();
  const tls = await import('node:tls');
  const socket = tls.connect({ host: '127.0.0.1', port: 9, servername: '127.0.0.1' });
  socket.on('error', () => {});
  process.emitWarning('another warning', 'DeprecationWarning', 'DEP0999');
  setTimeout(() => socket.destroy(), 50);
`;

function stderrOf(mode: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, mode], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return result.stderr;
}

describe("the sidecar's warnings", () => {
  it('drops DEP0123 (an IP address as TLS server name) and nothing else', () => {
    expect(stderrOf('plain')).toContain('DEP0123');
    const filtered = stderrOf('filtered');
    expect(filtered).not.toContain('DEP0123');
    expect(filtered).toContain('DEP0999');
  });
});
