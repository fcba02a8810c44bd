/**
 * The environment `leasehold run` gives its watchdog and command: built from the sidecar's
 * own, not inherited whole. The sidecar's settings (the store URL with its password, the
 * admin token) and the store drivers' credential variables are withheld: a variable passes
 * unless its name starts with one of these prefixes, or `--pass-env` names it. What the
 * command is meant to read (LEASEHOLD_TERM, LEASEHOLD_ID, LEASEHOLD_ELECTION) is added
 * after (run.ts). One rule, documented in docs/run.md.
 */
export const WITHHELD_PREFIXES = [
  // The sidecar's own settings: LEASEHOLD_STORE, LEASEHOLD_ADMIN_TOKEN and the rest.
  'LEASEHOLD_',
  // libpq and node-postgres: PGPASSWORD, PGPASSFILE, PGUSER, PGHOST, PGSSLKEY, …
  'PG',
  // redis-cli: REDISCLI_AUTH.
  'REDISCLI_',
  // etcdctl: ETCDCTL_USER, ETCDCTL_PASSWORD, ETCDCTL_KEY, …
  'ETCDCTL_',
] as const;

/** Whether the command sees the variable `name` of the sidecar's environment. */
export function passesToJob(name: string, passEnv: readonly string[]): boolean {
  return passEnv.includes(name) || !WITHHELD_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The sidecar's environment without what the command must not see. */
export function jobEnvironment(
  env: NodeJS.ProcessEnv,
  passEnv: readonly string[],
): Record<string, string> {
  const built: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && passesToJob(name, passEnv)) built[name] = value;
  }
  return built;
}
