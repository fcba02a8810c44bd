import { MemoryBackend } from '@leasehold/core/testing';
import { runConformanceSuite } from '@leasehold/conformance';

// The in-memory store passes the same suite as every real backend, so the suite itself is
// known to be satisfiable and the elector's simulations run against a faithful store.
const backend = new MemoryBackend();
runConformanceSuite({
  name: 'memory',
  createStore: () => backend.connect(),
  transfer: true,
  memberSteering: true,
  batch: true,
  batchMembers: true,
  batchReads: true,
  batchBeat: true,
  batchClaims: true,
});
