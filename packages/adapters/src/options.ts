/** Options every adapter understands besides its URL. */
export interface StoreOptions {
  /**
   * Isolates leasehold's data: the key prefix on Redis and etcd, the schema on PostgreSQL.
   * Tests give each case its own. Default: "leasehold".
   */
  readonly namespace?: string;
  /** TLS material for rediss:// and etcds:// (PEM contents, not paths). */
  readonly tls?: {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
  };
}

export const DEFAULT_NAMESPACE = 'leasehold';
