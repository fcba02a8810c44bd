export { version } from './version.js';
export { loadConfig, describeConfig } from './config/config.js';
export {
  parseDuration,
  FIELDS,
  SECRET_FILE_OPTIONS,
  DEFAULT_STORE,
  type SidecarConfig,
} from './config/fields.js';
export { commandGraceRule } from './config/timing.js';
export {
  createSidecarState,
  type SidecarState,
  type SidecarStateOptions,
} from './http/sidecar-state.js';
export { listen, type ListenAddress, type SidecarListener } from './http/listener.js';
export { ROUTES, type RouteDefinition } from './http/route-table.js';
export { DEFAULT_LIMITS, type ListenerLimits } from './http/limits.js';
export { leaderBody, type LeaderBody } from './http/answers.js';
export { createMetrics, type Metrics } from './http/metrics.js';
export {
  measureStore,
  type MeasuredStore,
  type StoreRequest,
  type StoreRequests,
} from './measured-store.js';
export { serve, createLogger, type RunningSidecar } from './sidecar.js';
export { main } from './cli.js';
/** How long before the lease's deadline `leasehold run`'s watchdog sends SIGKILL (docs/run.md). */
export { KILL_LEAD_MS } from './run/stop-plan.js';
