import { Elector } from '@leasehold/core';
import { createMemoryStore } from '@leasehold/core/testing';
import {
  startTestListener,
  type TestListener,
} from '../../packages/sidecar/test/helpers/http-listener.js';

export interface ProbeSidecar {
  /** The sidecar's listener, as the command runs it. */
  readonly listener: TestListener;
  close(): Promise<void>;
}

/**
 * The sidecar's real HTTP listener over an in-memory store, its elector never started: the
 * routes a deployment file probes (health checks, metrics, the app's questions) must exist
 * and answer before any store is reached.
 */
export async function probeSidecar(): Promise<ProbeSidecar> {
  const store = createMemoryStore();
  const elector = new Elector({ store, election: 'deploy-files', id: 'probe', ttlMs: 10_000 });
  const listener = await startTestListener({ elector });
  return {
    listener,
    async close() {
      await listener.close();
      await store.close();
    },
  };
}
