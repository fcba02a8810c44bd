import { freePort } from '../ports.js';
import { PostgresServer } from './postgres.js';

/**
 * Where a private server runs: `wrap` prefixes its command line (`ip netns exec <ns>`), it
 * listens on every address there, and clients reach it at `host`.
 */
export interface Placement {
  readonly host: string;
  readonly wrap: (argv: readonly string[]) => string[];
}

/**
 * A PostgreSQL cluster of the test's own (initdb in a temp dir, run as the postgres user),
 * for restarts and failovers that must not disturb the shared server other test files use.
 * The chaos suite's server: on loopback, or with a placement in a netlab namespace, open to
 * any client address. Close it in afterAll.
 */
export type PrivatePostgres = PostgresServer;

export async function startPrivatePostgres(placement?: Placement): Promise<PrivatePostgres> {
  return PostgresServer.start({
    ...(placement === undefined ? {} : { wrap: placement.wrap }),
    address: placement?.host ?? '127.0.0.1',
    port: await freePort(),
    open: placement !== undefined,
  });
}
