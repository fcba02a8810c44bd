/**
 * @leasehold/testkit: what tests, the chaos suite and the benchmarks share. Node's standard
 * library only (store servers are their own command-line programs), never imported by
 * production code (eslint.config.js enforces both).
 */
export { until, pause, now, freezeThread } from './wait.js';
export { freePort, freePorts, labPort } from './ports.js';
export {
  ProcessGroup,
  childrenOf,
  commandLineOf,
  groupAlive,
  killEveryGroup,
  liveMembers,
  parentOf,
  procStat,
  signalGroup,
  signalProcess,
  stopGroup,
  stopOutsideSqliteWrite,
} from './process-group.js';
export {
  createNetLab,
  type LabHost,
  type NetLab,
  type PathState,
  type StorePath,
} from './netlab.js';
export { childProcesses, leftRunning, running, runningWithMarker } from './process-scan.js';
export {
  hostMonotonicMs,
  JOB_STOP_MS,
  jobRuns,
  overlappingRuns,
  overlaps,
  writeJob,
  type JobRun,
} from './job-stamps.js';
export { TestCertificates } from './tls-certificates.js';
export { CuttableProxy } from './cuttable-proxy.js';
export { trackTimers } from './timers.js';
export { SIDECAR_BIN, sidecarArgv } from './sidecar-command.js';

// Servers in a lab host or on loopback, restartable: the chaos suite's and tests'.
export {
  BACKENDS,
  MemberGroup,
  ServerProcess,
  httpGet,
  tool,
  type Backend,
  type Member,
  type MemberPlace,
  type RestartableStore,
  type ServerSpec,
  type StoreFixture,
} from './stores/server.js';
export { RedisServer, redisCli, type RedisServerOptions } from './stores/redis.js';
export { RedisSentinelSet } from './stores/sentinel.js';
export { RedisClusterSet, type Shard } from './stores/redis-cluster.js';
export { PostgresServer, type PostgresPlace } from './stores/postgres.js';
export { PgBouncerFront, type PoolMode } from './stores/pgbouncer.js';
export { EtcdCluster, type EtcdPlacement, type EtcdTlsFiles } from './stores/etcd.js';
export {
  ZooKeeperEnsemble,
  fourLetterWord,
  zooKeeperCommand,
  zooKeeperConfig,
  type ZooKeeperConfig,
  type ZooKeeperOptions,
  type ZooKeeperPlacement,
  type ZooKeeperTlsFiles,
} from './stores/zookeeper.js';
export { SqliteFile } from './stores/sqlite.js';
export {
  startLabStore,
  type LabStore,
  type LabStoreOptions,
  type StoreHostPlace,
} from './stores/lab-store.js';

// Servers on loopback for adapter and sidecar tests: TLS, auth, stalls.
export {
  startPrivatePostgres,
  type Placement,
  type PrivatePostgres,
} from './stores/private-postgres.js';
