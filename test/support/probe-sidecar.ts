import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import { createLogger, createSidecarState, listen, ROUTES } from '@leasehold/sidecar';

export interface ProbeAnswer {
  readonly statusCode: number;
  readonly body: string;
}

export interface ProbeSidecar {
  /** The listener's `http://127.0.0.1:port`. */
  readonly url: string;
  /** GET `path` over the socket. */
  request(path: string): Promise<ProbeAnswer>;
  /** Whether the sidecar serves GET `path` (query string ignored), by its route table. */
  servesGet(path: string): boolean;
  close(): Promise<void>;
}

/**
 * The sidecar's real HTTP listener (the one the command uses, on port 0) over an in-memory
 * store, its elector never started: the routes a deployment file probes (health checks,
 * metrics, the app's questions) must exist and answer before any store is reached.
 */
export async function probeSidecar(): Promise<ProbeSidecar> {
  const store = createMemoryStore();
  const elector = new Elector({ store, election: 'deploy-files', id: 'probe', ttlMs: 10_000 });
  const state = createSidecarState({
    elector,
    logger: createLogger({ logLevel: 'silent' }),
    adminToken: undefined,
  });
  const listener = await listen(state, { host: '127.0.0.1', port: 0 });
  return {
    url: listener.url,
    async request(path) {
      const response = await fetch(`${listener.url}${path}`);
      return { statusCode: response.status, body: await response.text() };
    },
    servesGet: (path) =>
      ROUTES.some((route) => route.method === 'GET' && route.path === path.split('?')[0]),
    async close() {
      await listener.close();
      await store.close();
    },
  };
}
