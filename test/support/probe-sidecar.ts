import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { buildServer, createLogger, createMetrics } from '@leasehold/sidecar';

export type SidecarServer = Awaited<ReturnType<typeof buildServer>>;

export interface ProbeSidecar {
  readonly server: SidecarServer;
  /** Whether the sidecar serves GET `path` (query string ignored). */
  servesGet(path: string): boolean;
  close(): Promise<void>;
}

/**
 * The sidecar's real HTTP server over an in-memory store, its elector never started: the
 * routes a deployment file probes (health checks, metrics, the app's questions) must exist
 * and answer before any store is reached.
 */
export async function probeSidecar(): Promise<ProbeSidecar> {
  const store = createMemoryStore();
  const elector = new Elector({ store, election: 'deploy-files', id: 'probe', ttlMs: 10_000 });
  const server = await buildServer({
    elector,
    logger: createLogger({ logLevel: 'silent' }),
    metrics: createMetrics(elector),
    adminToken: undefined,
  });
  await server.ready();
  return {
    server,
    servesGet: (path) => server.hasRoute({ method: 'GET', url: path.split('?')[0] ?? path }),
    async close() {
      await server.close();
      await store.close();
    },
  };
}
