import type {
  Etcd3,
  IDuplexStream,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IWatchRequest,
  IWatchResponse,
} from 'etcd3';
import type { CallOptions } from './client.js';

export type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** The parts of etcd3 1.1's connection pool that `StreamOpener` uses. */
interface PoolInternals {
  readonly hosts?: readonly unknown[];
  withConnection?: unknown;
}

type WithConnection = (
  service: 'Lease' | 'Watch',
  open: (connection: { client: unknown; metadata: unknown; resource: { host: string } }) => unknown,
  hosts: Generator<unknown, void, unknown>,
) => Promise<unknown>;

interface StreamingClient {
  leaseKeepAlive(metadata: unknown, options: CallOptions): KeepAliveStream;
  watch(metadata: unknown, options: CallOptions): WatchStream;
}

/**
 * Opens gRPC streams on the configured hosts in turn.
 *
 * etcd3 opens each stream on a host picked at random, and a stream to a host that is down
 * fails only after it was opened, when etcd3 can no longer pick another. Retrying on a random
 * host again may hit the same dead one; taking the hosts in turn, a retry reaches a different
 * host every time. With one host, or if etcd3's internals are not as expected (another
 * version), streams open the ordinary way.
 */
export class StreamOpener {
  private nextHost = 0;
  private readonly pool: { hosts: readonly unknown[]; withConnection: WithConnection } | null;

  constructor(private readonly client: Etcd3) {
    const pool = (client as unknown as { pool?: PoolInternals }).pool;
    this.pool =
      pool !== undefined &&
      Array.isArray(pool.hosts) &&
      pool.hosts.length > 1 &&
      typeof pool.withConnection === 'function'
        ? { hosts: pool.hosts, withConnection: pool.withConnection.bind(pool) as WithConnection }
        : null;
  }

  /** How many hosts there are to try. */
  get hostCount(): number {
    return this.pool?.hosts.length ?? 1;
  }

  /** A keep-alive stream, and the host it is open to ('' with a single host). */
  async keepAlive(options: CallOptions): Promise<{ stream: KeepAliveStream; host: string }> {
    if (this.pool === null) {
      const stream = await this.client.leaseClient.leaseKeepAlive(options);
      return { stream: withoutLibraryErrorHandler(stream), host: '' };
    }
    let host = '';
    const stream = (await this.pool.withConnection(
      'Lease',
      ({ client, metadata, resource }) => {
        host = resource.host;
        return (client as StreamingClient).leaseKeepAlive(metadata, options);
      },
      this.hostsFromNext(),
    )) as KeepAliveStream;
    return { stream, host };
  }

  /** A watch stream; it has no deadline, it lives until it is ended. */
  async watch(): Promise<WatchStream> {
    if (this.pool === null)
      return withoutLibraryErrorHandler(await this.client.watchClient.watch());
    return (await this.pool.withConnection(
      'Watch',
      ({ client, metadata }) => (client as StreamingClient).watch(metadata, {}),
      this.hostsFromNext(),
    )) as WatchStream;
  }

  private *hostsFromNext(): Generator<unknown, void, unknown> {
    const hosts = this.pool?.hosts ?? [];
    const first = this.nextHost;
    this.nextHost = (this.nextHost + 1) % Math.max(1, hosts.length);
    for (let offset = 0; ; offset += 1) yield hosts[(first + offset) % hosts.length];
  }
}

/**
 * etcd3 attaches an error listener to each stream it opens that closes all of the host's
 * channels on a failure, which gRPC 1.14 leaks connections from (see `hostPolicy` in
 * client.ts). Our callers handle their streams' errors themselves.
 */
function withoutLibraryErrorHandler<T extends object>(stream: T): T {
  if ('removeAllListeners' in stream && typeof stream.removeAllListeners === 'function') {
    stream.removeAllListeners('error');
  }
  return stream;
}
