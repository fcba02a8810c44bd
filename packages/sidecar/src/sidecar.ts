import { createStore, maskUrl } from '@leasehold/adapters';
import {
  Elector,
  type SharedHeartbeat,
  type ShardGroup,
  storeCallTimeoutMs,
  waitAtMost,
  type LeaseStore,
  type ResignOutcome,
} from '@leasehold/core';
import pino, { type Logger } from 'pino';
import type { SidecarConfig } from './config/fields.js';
import type { ElectionSettings } from './config/elections.js';
import type { CommandStatus } from './run/command-backoff.js';
import { isLoopbackAddress } from './http/host-check.js';
import { listen as listenHttp, type SidecarListener } from './http/listener.js';
import { createSidecarState } from './http/sidecar-state.js';
import { electionTimingOf } from './config/timing.js';
import { appHealthTimeoutMs, gatesOnAppHealth, steeringOf } from './config/steering.js';
import { AppHealthProbe } from './app-health/probe.js';
import { readListenerTls, readTlsFiles } from './config/tls-files.js';
import { makeShardGroups } from './shard-groups.js';
import { sidecarHeartbeat } from './shared-heartbeat.js';
import { measureStore, type MeasuredStore } from './measured-store.js';

/**
 * One sidecar, from start to stop: open the store, make the elector and the state the HTTP
 * API reads (http/sidecar-state.ts), bind the listener (http/listener.ts), compete; and
 * shut down in order. `leasehold` and `leasehold run` (cli.ts) both start here.
 */

export function createLogger(config: Pick<SidecarConfig, 'logLevel'>): Logger {
  const options = { level: config.logLevel, base: { service: 'leasehold' } };
  // Pretty only for a person at a terminal; machines get one JSON object per line, written
  // synchronously: a sidecar logs a few lines an hour, each should be out before a crash,
  // and the flush at exit of pino's default asynchronous destination retries a closed pipe
  // (EPIPE, the log reader gone) every 100 ms for ever: the process never exited.
  return process.stdout.isTTY
    ? pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } })
    : pino(options, pino.destination({ dest: 1, sync: true }));
}

/**
 * Something that runs beside an election (`leasehold run`'s command, or one of its jobs). It
 * is attached before the election starts, so it sees the first `elected` however fast that comes, and
 * stopped before leadership is released.
 */
export interface Attachment {
  /** Stop before the lease is released, on shutdown or a failed start-up. */
  readonly stop: () => Promise<void>;
  /** Behind POST /v1/resign (of its election), in place of `elector.resign()`. */
  readonly resign?: () => Promise<ResignOutcome>;
  /**
   * The elector's `beforeHandOver`: runs while still leading, before a transfer (asked, or
   * started by a drain or an unhealthy app) lets the successor claim (docs/design.md §3.6).
   */
  readonly beforeHandOver?: () => Promise<void>;
  /** For /metrics and GET /v1/command: the command's restarts and backoff. */
  readonly status?: () => CommandStatus;
}

export interface RunningSidecar {
  readonly url: string;
  /** The first election's elector: the one the unprefixed routes and `leasehold run` serve. */
  readonly elector: Elector;
  /** Every election's elector, in configuration order, the first one `elector`. */
  readonly electors: readonly Elector[];
  /** The shard groups (`shards:`), in configuration order; none without. */
  readonly shardGroups: readonly ShardGroup[];
  /** The sidecar's logger, bound to its id, and to its election when it has one. */
  readonly logger: Logger;
  /** Stop accepting, stop reporting leadership and release every lease, close the store. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Start the sidecar: check the TLS files, open the store, bind the HTTP port, then compete
 * in every election, each with an elector of its own on the one store (docs/design.md §4).
 * Throws what stops start-up (startup-failure.ts words it); a store that is merely down does
 * not. Whatever it opened before failing it closes, and it has not competed yet.
 * `attach` is asked once per election, with the election's elector and logger; what it
 * returns runs beside that election (`leasehold run`'s jobs), nothing for undefined.
 */
export async function serve(
  config: SidecarConfig,
  logger: Logger,
  attach?: (elector: Elector, logger: Logger, config: SidecarConfig) => Attachment | undefined,
): Promise<RunningSidecar> {
  // The store's calls time out as the strictest election's do.
  const timeoutMs = Math.min(
    ...config.elections.map((e) => storeCallTimeoutMs(electionTimingOf(e))),
    ...(config.shards === undefined ? [] : [storeCallTimeoutMs(electionTimingOf(config))]),
  );
  // Every request timed once, whichever elections it serves (measured-store.ts).
  const store = measureStore(await openStore(config, logger, timeoutMs));
  // Made once the electors are: a transfer stops what runs beside its election first.
  const attachments = new Map<string, Attachment>();
  // Every lease of the sidecar, shards included, renews on one heartbeat.
  const heartbeat = sidecarHeartbeat(store, config);
  const electors = await makeElectors(store, config, attachments, heartbeat);
  const [elector] = electors;
  const { log, logs } = logElections(electors, logger, config.id);
  const shardGroups = makeShardGroups(store, config, heartbeat, logger);
  electors.forEach((each, index) => {
    const attachment = attach?.(each, logs[index] ?? log, config);
    if (attachment !== undefined) attachments.set(each.election, attachment);
  });
  const { server, address } = await listen(config, electors, log, attachments, store, shardGroups);
  const probe = appHealthProbe(config, electors, log, shardGroups);
  const starting = new AbortController();
  void startInWaves(electors, starting.signal);
  for (const group of shardGroups) group.start();
  probe?.start();
  logListening(log, config, address, store.backend, elector);
  let stopping: Promise<void> | null = null;
  return {
    url: address,
    elector,
    electors,
    shardGroups,
    logger: log,
    shutdown(reason: string) {
      stopping ??= (async () => {
        starting.abort();
        log.info({ reason }, 'shutting down: releasing leadership');
        await probe?.stop();
        await shutDown({ config, attachments, electors, shardGroups, server, store });
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

/** Electors started together; the next wave waits for this one (startInWaves). */
const START_WAVE = 50;
const WAVE_CHECK_MS = 20;

/**
 * Start the electors a wave at a time: a thousand first claims at once time out on the one
 * connection and are handed back when answered late, again and again (on etcd, at a load of
 * 20, a sidecar of 1,000 elections led none of them after 3 minutes). The next wave starts
 * once this one's elections have all been seen through the store (claimed, or found held),
 * or after one TTL. Up to 50 elections start at once, as they always did.
 */
async function startInWaves(electors: readonly Elector[], signal: AbortSignal): Promise<void> {
  for (let first = 0; first < electors.length && !signal.aborted; first += START_WAVE) {
    const wave = electors.slice(first, first + START_WAVE);
    for (const each of wave) each.start();
    if (first + START_WAVE >= electors.length) return;
    const deadline = performance.now() + Math.max(...wave.map((e) => e.timing.ttlMs));
    while (!signal.aborted && performance.now() < deadline) {
      if (wave.every((each) => each.status().observed)) break;
      await new Promise((resolve) => setTimeout(resolve, WAVE_CHECK_MS));
    }
  }
}

/**
 * One elector per election, all on the one store, each with its election's timing and
 * priority; each one's hand-over waits for what is attached to it. Closes the store if one
 * cannot be made.
 */
async function makeElectors(
  store: LeaseStore,
  config: SidecarConfig,
  attached: ReadonlyMap<string, Attachment>,
  sharedHeartbeat: SharedHeartbeat | undefined,
): Promise<[Elector, ...Elector[]]> {
  const make = (election: ElectionSettings) =>
    new Elector({
      ...(sharedHeartbeat === undefined ? {} : { sharedHeartbeat }),
      store,
      election: election.name,
      id: config.id,
      ...electionTimingOf(election),
      priority: election.priority,
      steering: steeringOf(config),
      beforeHandOver: () => attached.get(election.name)?.beforeHandOver?.() ?? Promise.resolve(),
    });
  try {
    const [first, ...rest] = config.elections;
    if (first === undefined) throw new Error('no election configured');
    return [make(first), ...rest.map(make)];
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * Log each election's changes with its name; the sidecar's own lines name its election
 * only when it has one (as they always did), its id either way.
 */
function logElections(
  electors: readonly [Elector, ...Elector[]],
  logger: Logger,
  id: string,
): { log: Logger; logs: readonly Logger[] } {
  const logs = electors.map((each) => logger.child({ election: each.election, id }));
  electors.forEach((each, index) => logElection(each, logs[index] ?? logger, each.election));
  const firstLog = logs[0] ?? logger;
  return { log: electors.length === 1 ? firstLog : logger.child({ id }), logs };
}

function logListening(
  log: Logger,
  config: SidecarConfig,
  address: string,
  backend: string,
  first: Elector,
): void {
  log.info(
    {
      url: address,
      store: maskUrl(config.store),
      backend,
      ttlMs: first.timing.ttlMs,
      ...(config.elections.length > 1 ? { elections: config.elections.length } : {}),
    },
    `leasehold listening on ${address}, ${electionsText(config)} on ${backend}`,
  );
}

/** `election "a"`, or for several `3 elections: "a", "b", "c"` (the first few of many). */
function electionsText(config: SidecarConfig): string {
  const names = config.elections.map((e) => JSON.stringify(e.name));
  if (names.length === 1) return `election ${names[0] ?? ''}`;
  const shown = names.length > 5 ? [...names.slice(0, 5), '…'] : names;
  return `${names.length} elections: ${shown.join(', ')}`;
}

/**
 * The app's health check, when one is configured (--app-health, --app-health-command): one
 * check for the whole sidecar, its results fed to every election's gate alike.
 */
function appHealthProbe(
  config: SidecarConfig,
  electors: readonly Elector[],
  logger: Logger,
  shardGroups: readonly ShardGroup[],
): AppHealthProbe | null {
  const [first] = electors;
  if (!gatesOnAppHealth(config) || first === undefined) return null;
  const check =
    config.appHealthUrl !== undefined
      ? { kind: 'url' as const, url: config.appHealthUrl }
      : {
          kind: 'command' as const,
          command: config.appHealthCommand ?? '',
          passEnv: config.passEnv,
        };
  return new AppHealthProbe({
    check,
    intervalMs: config.appHealthIntervalMs,
    timeoutMs: appHealthTimeoutMs(config),
    elector: {
      status: () => first.status(),
      on: (event, listener) => first.on(event, listener),
      setAppHealth: (healthy) => {
        for (const each of electors) each.setAppHealth(healthy);
        for (const group of shardGroups) group.setAppHealth(healthy);
      },
    },
    logger,
  });
}

/** The store the configuration names; its request timeouts follow the elector's. */
async function openStore(
  config: SidecarConfig,
  logger: Logger,
  requestTimeoutMs: number,
): Promise<LeaseStore> {
  if (config.storeIsDefault) {
    logger.warn(
      { store: config.store },
      'no store configured: using the embedded SQLite file, which elects only among processes on THIS host. ' +
        'For several hosts set --store / LEASEHOLD_STORE to redis://…, postgres://…, etcd://… or zk://…',
    );
  }
  const tls = readTlsFiles(config);
  return createStore(config.store, {
    namespace: config.namespace,
    // ZooKeeper fixes the session timeout (its TTL) when it connects.
    ttlMs: config.ttlMs,
    requestTimeoutMs,
    ...(tls === undefined ? {} : { tls }),
  });
}

/** What a person reading the log at 3 a.m. needs to know about the election. */
function logElection(elector: Elector, log: Logger, election: string): void {
  elector.on('elected', ({ term }) =>
    log.info({ event: 'elected', term }, `elected leader of "${election}" (term ${term})`),
  );
  elector.on('deposed', ({ term, reason }) =>
    log.info({ event: 'deposed', term, reason }, `no longer leader (term ${term}): ${reason}`),
  );
  let heldOffTerm: number | null = null; // renewals during the wait repeat the event
  elector.on('lease', ({ term, leadsFrom }) => {
    const waitMs = Math.round(leadsFrom - performance.now());
    if (waitMs <= 0 || term === heldOffTerm) return;
    heldOffTerm = term;
    log.warn(
      { event: 'lease-held-off', term, waitMs },
      `acquired the lock of "${election}" (term ${term}) but leads only in ${waitMs} ms: an earlier ` +
        "holder's lease may still run (it did not release: frozen, cut off, crashed), or the store " +
        'may have forgotten one (restart without persistence, failover, flush, a namespace it has ' +
        'never served); that lease must run out first',
    );
  });
  elector.on('leader', (leader) => log.debug({ event: 'leader', leader }, 'leader observed'));
  elector.on('term-regression', ({ previous, observed, highest }) =>
    log.error(
      { event: 'term-regression', previous, observed, highest },
      `the term of "${election}" went back from ${previous} to ${observed}: the store was reset ` +
        '(data wiped, schema dropped, namespace or SQLite file changed). Apps that fence writes with the ' +
        `term will refuse the new leader's writes until terms pass ${highest}`,
    ),
  );
  elector.on('store-health', (health) => {
    if (health.healthy) log.info({ event: 'store-health', healthy: true }, 'store reachable again');
    else
      log.warn(
        { event: 'store-health', healthy: false, error: health.error },
        `store unavailable: ${health.error?.message ?? ''}`,
      );
  });
}

/**
 * Build the HTTP API and bind it, before the elector competes: a sidecar whose port is taken
 * never leads, so it never starts a `run` command or makes the next leader wait for its
 * release. On failure, closes what it opened (the store included).
 */
async function listen(
  config: SidecarConfig,
  electors: readonly Elector[],
  log: Logger,
  attachments: ReadonlyMap<string, Attachment>,
  store: MeasuredStore,
  shardGroups: readonly ShardGroup[],
) {
  let server: SidecarListener | undefined;
  try {
    const tls = readListenerTls(config);
    const admin = adminPolicy(config, tls !== undefined);
    // Here, before the elector starts: what the routes show must see every change.
    const [elector] = electors;
    if (elector === undefined) throw new Error('no election configured');
    const state = createSidecarState({
      elector,
      electors,
      logger: log,
      adminToken: config.adminToken,
      resignDisabledReason: admin.refused,
      jobs: attachments,
      shardGroups,
      storeRequests: store.requests,
    });
    // With an admin token the admin routes (Fastify) will be asked for: load them now, not
    // during a campaign (their first load blocks the event loop for a good part of a second).
    const routesAtStart = config.adminToken !== undefined;
    server = await listenHttp(state, { host: config.host, port: config.port, tls, routesAtStart });
    if (!isLoopbackAddress(config.host)) {
      log.warn(
        { host: config.host, tls: tls !== undefined },
        `binding ${config.host}, not loopback: anyone who can reach this port can read leadership` +
          (config.adminToken === undefined || admin.refused !== undefined
            ? ''
            : ' and, with the admin token, resign it'),
      );
    }
    if (admin.line !== undefined) log.warn({ host: config.host }, admin.line);
    return { server, address: server.url };
  } catch (error) {
    await stopAll(attachments);
    await server?.close();
    await store.close();
    throw error;
  }
}

/** Stop what runs beside every election, all at once: one job's grace does not delay another's. */
async function stopAll(attachments: ReadonlyMap<string, Attachment>): Promise<void> {
  await Promise.all([...attachments.values()].map((attachment) => attachment.stop()));
}

/**
 * Leadership first (a follower should take over while we close connections), and what runs
 * beside it before that, so that it never runs in two places. Every step gets what is left
 * of the shutdown grace, so the whole cannot outlast it (the command's own grace is below
 * it, checked at start-up).
 */
async function shutDown(parts: {
  config: SidecarConfig;
  attachments: ReadonlyMap<string, Attachment>;
  electors: readonly Elector[];
  shardGroups: readonly ShardGroup[];
  server: { close(): Promise<unknown> };
  store: LeaseStore;
}): Promise<void> {
  const { config, attachments, electors, shardGroups, server, store } = parts;
  const deadline = performance.now() + config.shutdownGraceMs - EXIT_MARGIN_MS;
  const left = (reserve = 0) => Math.max(0, deadline - performance.now() - reserve);
  await stopAll(attachments);
  // Every lease at once: a sidecar of many elections releases in one round trip's time.
  const withinMs = left(STORE_CLOSE_MS);
  await Promise.all([
    ...electors.map((elector) => elector.stop({ withinMs })),
    ...shardGroups.map((group) => group.stop({ withinMs })),
  ]);
  await server.close();
  // The connections end with the process anyway: a close that has not finished when the
  // grace is up is left behind, not waited for.
  await waitAtMost(store.close(), left());
}

/** Kept from the shutdown grace for logging and exiting. */
const EXIT_MARGIN_MS = 250;
/** Kept for closing the store after the release (adapters bound their close to 1 s). */
const STORE_CLOSE_MS = 1_000;

/**
 * Whether POST /v1/resign takes the admin token. On a non-loopback bind without TLS the
 * token would cross the network in clear, where anyone on the path can read and replay it:
 * resign is refused there unless --allow-insecure-admin says otherwise. Either way, one
 * line says so at start-up.
 */
function adminPolicy(config: SidecarConfig, tls: boolean): { refused?: string; line?: string } {
  if (config.adminToken === undefined || tls || isLoopbackAddress(config.host)) return {};
  if (config.allowInsecureAdmin) {
    return {
      line:
        `--allow-insecure-admin: the admin token crosses the network to ${config.host} in clear; ` +
        'anyone on the path can read it and resign this sidecar. Prefer --tls-cert and --tls-key',
    };
  }
  const refused =
    `resign is disabled: the admin token would cross the network in clear (--host ${config.host}, ` +
    'no TLS); set --tls-cert and --tls-key, or --allow-insecure-admin true';
  return { refused, line: refused };
}
