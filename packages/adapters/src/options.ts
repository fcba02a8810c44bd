/** Options every adapter understands besides its URL. */
export interface StoreOptions {
  /**
   * Isolates leasehold's data: the key prefix on Redis and etcd, the schema on PostgreSQL.
   * Tests give each case its own. Default: "leasehold".
   */
  readonly namespace?: string;
  /**
   * The lease TTL the elector will ask for. ZooKeeper expires leases with the session, whose
   * timeout is fixed when the session opens, so its adapter asks for this one at connect time
   * (otherwise it adopts the first TTL a call asks for). Other stores take the TTL per call
   * and ignore this. Default: 10 s, the elector's default.
   */
  readonly ttlMs?: number;
  /**
   * How long one store request may take before the adapter abandons it. The elector stops
   * waiting for a call after one renew interval, and the sidecar passes that here, so that a
   * store's own timeouts follow the TTL too. It can only shorten an adapter's own timeout
   * (Redis 2 s, PostgreSQL 5 s, etcd 5 s), which also decides how soon a stalled server is
   * noticed. Default: the adapter's own.
   */
  readonly requestTimeoutMs?: number;
  /** TLS material for rediss://, etcds:// and postgres:// (PEM contents, not paths). */
  readonly tls?: {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
  };
}

export const DEFAULT_NAMESPACE = 'leasehold';

/**
 * A namespace every backend accepts (it is also a PostgreSQL schema name as it stands): the
 * sidecar's `--store-prefix` holds to it, so one configuration moves between backends.
 * Each adapter checks its own, wider rule besides.
 */
export const PORTABLE_NAMESPACE = {
  pattern: /^[a-z_][a-z0-9_]{0,62}$/,
  accepted: 'lower-case letters, digits and _, starting with a letter or _, at most 63 characters',
} as const;

/** Below this, abandoning requests would mostly churn connections on a busy machine. */
const MIN_REQUEST_TIMEOUT_MS = 250;

/** The request timeout an adapter uses: its own default, shortened by `requestTimeoutMs`. */
export function requestTimeout(options: StoreOptions, adapterDefaultMs: number): number {
  const asked = options.requestTimeoutMs;
  if (asked === undefined) return adapterDefaultMs;
  return Math.max(MIN_REQUEST_TIMEOUT_MS, Math.min(adapterDefaultMs, asked));
}
