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
  /** TLS material for rediss:// and etcds:// (PEM contents, not paths). */
  readonly tls?: {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
  };
}

export const DEFAULT_NAMESPACE = 'leasehold';
