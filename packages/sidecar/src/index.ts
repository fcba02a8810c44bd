export { version } from './version.js';
export {
  loadConfig,
  describeConfig,
  commandGraceRule,
  parseDuration,
  FIELDS,
  SECRET_FILE_OPTIONS,
  DEFAULT_STORE,
  type SidecarConfig,
} from './config.js';
export { buildServer, type ServerOptions } from './server.js';
export { DEFAULT_LIMITS, type ListenerLimits } from './http/limits.js';
export { leaderBody, type LeaderBody } from './http/answers.js';
export { createMetrics, type Metrics } from './metrics.js';
export { serve, createLogger, type RunningSidecar } from './serve.js';
export { main } from './cli.js';
