import type { Elector, ShardGroup } from '@leasehold/core';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreRequests } from '../measured-store.js';
import type { CommandStatus } from '../run/command-backoff.js';

/**
 * Prometheus metrics on a registry of our own (docs/http-api.md lists them). Leadership
 * gauges are computed at scrape time from the elector, so they follow the deadline rather
 * than the last event; counters follow the elector's events.
 */
export interface Metrics {
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * `electors`: every election of the sidecar; each leadership and steering series has one per
 * election, told apart by its `election` label. The process's own series (process_*,
 * nodejs_*) and the store's (`storeRequests`: the sidecar's requests, each once) carry the
 * first election's name, as a one-election sidecar's always did.
 * `commands`: `leasehold run`'s commands by election (its one command, or one job per
 * election), whose restarts and backoff are shown too, labelled by election.
 */
export function createMetrics(
  electors: Elector | readonly Elector[],
  commands?: ReadonlyMap<string, () => CommandStatus>,
  shardGroups: readonly ShardGroup[] = [],
  storeRequests?: StoreRequests,
): Metrics {
  const all: readonly Elector[] = Array.isArray(electors) ? electors : [electors as Elector];
  const registry = processRegistry();
  registry.setDefaultLabels({ election: all[0]?.election ?? '' });
  addLeadershipGauges(registry, all);
  countTransitions(registry, all);
  addSteeringMetrics(registry, all);
  measureStoreRequests(registry, all[0]?.status().backend ?? '', storeRequests);
  if (commands !== undefined && commands.size > 0) addCommandMetrics(registry, commands);
  if (shardGroups.length > 0) addShardMetrics(registry, shardGroups);
  return { contentType: registry.contentType, render: () => registry.metrics() };
}

/** How many shards of each group this instance leads, at scrape time (docs/shards.md). */
function addShardMetrics(registry: Registry, groups: readonly ShardGroup[]): void {
  new Gauge({
    name: 'leasehold_shards_owned',
    help: 'Shards of the group this instance leads now',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      for (const group of groups) this.set({ group: group.name }, group.owned().length);
    },
  });
}

function addCommandMetrics(
  registry: Registry,
  commands: ReadonlyMap<string, () => CommandStatus>,
): void {
  new Counter({
    name: 'leasehold_command_restarts_total',
    help: 'leasehold run: times the command ended by itself while leading and is started again',
    labelNames: ['election'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [election, command] of commands) this.inc({ election }, command().restarts);
    },
  });
  new Gauge({
    name: 'leasehold_command_backoff_seconds',
    help: 'leasehold run: the wait sat out before competing again after the command ended (0 when none)',
    labelNames: ['election'],
    registers: [registry],
    collect() {
      for (const [election, command] of commands)
        this.set({ election }, command().backoffMs / 1000);
    },
  });
}

/** A registry with Node's process metrics, minus the ones promtool rejects. */
function processRegistry(): Registry {
  const registry = new Registry();
  // prom-client's event-loop delay gauges are replaced (addEventLoopDelayGauges); its own
  // monitor, which cannot be turned off, then samples once a second, for nothing.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1_000 });
  addEventLoopDelayGauges(registry);
  // Gauges named like counters, which `promtool check metrics` rejects; each is the sum of
  // the by-type gauge of the same name without `_total` (nodejs_active_handles, …).
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

/** One series as the registry renders it (prom-client's MetricValue). */
interface SeriesValue {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * A family with one series or more per election, made at scrape time from the electors and
 * what was counted: nothing per election is kept between scrapes. prom-client's own gauges
 * and counters keep an object per series (15 per election, 15,000 at 1,000 elections), in a
 * map per family whose keys V8 gave a hidden class each (3,000 for the transfers counter):
 * about 4 KB per election, for values computed at scrape time anyway. The registry reads a
 * family through `get()`, as it reads its own.
 */
abstract class ElectionFamily {
  abstract readonly type: 'gauge' | 'counter';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly electors: readonly Elector[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract values(): SeriesValue[];

  get() {
    const { name, help, type, aggregator } = this;
    return { name, help, type, aggregator, values: this.values() };
  }

  /** Nothing to reset: the registry's resetMetrics() asks every metric. */
  reset(): void {}
}

/** A gauge computed at scrape time, one series per election: leadership follows the deadline. */
class ElectionGauge extends ElectionFamily {
  readonly type = 'gauge';

  constructor(
    name: string,
    help: string,
    electors: readonly Elector[],
    registry: Registry,
    private readonly value: (elector: Elector) => number,
  ) {
    super(name, help, electors, registry);
  }

  protected values(): SeriesValue[] {
    return this.electors.map((elector) => ({
      labels: { election: elector.election },
      value: this.value(elector),
    }));
  }
}

/**
 * A counter by election and by the labels before `election` (`labelNames`), counted only
 * once it counts: each election shows `zeros` at 0 from the start (increase() sees a
 * process's first change only if the series existed before it), and each other series once
 * counted.
 */
class ElectionCounter extends ElectionFamily {
  readonly type = 'counter';
  /** By election, then by the label values (JSON): the counts so far, none until one is. */
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(
    name: string,
    help: string,
    electors: readonly Elector[],
    registry: Registry,
    private readonly labelNames: readonly string[],
    private readonly zeros: readonly (readonly string[])[],
  ) {
    super(name, help, electors, registry);
  }

  inc(election: string, labelValues: readonly string[]): void {
    let counts = this.counts.get(election);
    if (counts === undefined) this.counts.set(election, (counts = new Map()));
    const key = JSON.stringify(labelValues);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  protected values(): SeriesValue[] {
    const zeroKeys = this.zeros.map((values) => JSON.stringify(values));
    return this.electors.flatMap(({ election }) => {
      const counts = this.counts.get(election);
      const keys = counts === undefined ? zeroKeys : new Set([...zeroKeys, ...counts.keys()]);
      return [...keys].map((key) => ({
        labels: this.labels(JSON.parse(key) as string[], election),
        value: counts?.get(key) ?? 0,
      }));
    });
  }

  private labels(values: readonly string[], election: string): Record<string, string> {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, index) => (labels[name] = values[index] ?? ''));
    labels.election = election;
    return labels;
  }
}

/** Scrape-time gauges of the electors, one series per election. */
function scrapeTimeGauges(registry: Registry, electors: readonly Elector[]) {
  return (name: string, help: string, value: (elector: Elector) => number) =>
    new ElectionGauge(name, help, electors, registry, value);
}

function addLeadershipGauges(registry: Registry, electors: readonly Elector[]): void {
  const gauge = scrapeTimeGauges(registry, electors);
  gauge('leasehold_is_leader', '1 while this instance leads, by its own deadline', (elector) =>
    elector.isLeader() ? 1 : 0,
  );
  gauge(
    'leasehold_term',
    'Fencing term of the leader this instance knows of (0 when none)',
    (elector) => elector.status().leader?.term ?? 0,
  );
  gauge(
    'leasehold_lease_remaining_seconds',
    'While leading, seconds until this instance\u2019s own deadline',
    (elector) => elector.status().leaseRemainingMs / 1000,
  );
  // Alerts compare the lease remaining with the TTL each sidecar runs with, instead of a
  // number copied into the rules.
  gauge(
    'leasehold_ttl_seconds',
    'The lease time to live this instance asks for',
    (elector) => elector.timing.ttlMs / 1000,
  );
}

function countTransitions(registry: Registry, electors: readonly Elector[]): void {
  const transitions = new ElectionCounter(
    'leasehold_transitions_total',
    'Leadership changes of this instance, by kind',
    electors,
    registry,
    ['kind', 'reason'],
    [['elected', '']],
  );
  const termRegressions = new ElectionCounter(
    'leasehold_term_regressions_total',
    'Times this instance saw the election\u2019s term go backwards (the store was reset)',
    electors,
    registry,
    [],
    [[]],
  );
  for (const elector of electors) {
    const { election } = elector;
    elector.on('elected', () => transitions.inc(election, ['elected', '']));
    elector.on('deposed', ({ reason }) => transitions.inc(election, ['deposed', reason]));
    elector.on('term-regression', () => termRegressions.inc(election, []));
  }
}

/** What docs/operations.md's sequences watch: drained, app health, transfers. */
function addSteeringMetrics(registry: Registry, electors: readonly Elector[]): void {
  const gauge = scrapeTimeGauges(registry, electors);
  gauge('leasehold_drained', '1 while this candidate is drained (or a standby)', (elector) =>
    elector.status().steering.drained ? 1 : 0,
  );
  gauge(
    'leasehold_app_healthy',
    'The app health check\u2019s verdict: 1 healthy, 0 unhealthy, -1 unknown (none yet, or no check)',
    (elector) => APP_HEALTH_VALUE[elector.status().steering.health],
  );
  gauge(
    'leasehold_transferring',
    '1 while a transfer of this candidate\u2019s is under way',
    (elector) => (elector.status().steering.transferringTo === null ? 0 : 1),
  );
  countTransfers(registry, electors);
}

const APP_HEALTH_VALUE = { healthy: 1, unhealthy: 0, unknown: -1 } as const;

/**
 * Transfers this candidate made (asked, or started by a drain or an unhealthy app), by
 * outcome once each ended: `transferred` (the target leads), `kept` (refused or taken back:
 * this candidate still leads), `failed` (neither leads).
 */
function countTransfers(registry: Registry, electors: readonly Elector[]): void {
  const transfers = new ElectionCounter(
    'leasehold_transfers_total',
    'Transfers this candidate made, by outcome: transferred, kept (refused or taken back), failed',
    electors,
    registry,
    ['outcome'],
    [['transferred'], ['kept'], ['failed']],
  );
  for (const elector of electors) {
    const { election } = elector;
    let target: string | null = null;
    elector.on('steering', ({ transferringTo }) => {
      if (target !== null && transferringTo === null) {
        const status = elector.status();
        const outcome =
          status.leader?.id === target ? 'transferred' : status.isLeader ? 'kept' : 'failed';
        transfers.inc(election, [outcome]);
      }
      target = transferringTo;
    });
  }
}

/**
 * The sidecar's store requests, each once (measured-store.ts): by operation and backend, not
 * by election. The elections share one connection and one heartbeat, so a request (a batch
 * of renewals above all) is no one election's; series per election were also 60 a piece,
 * 57,000 at 1,000 elections. Like the process series, these carry the first election's
 * name as their `election` label.
 */
function measureStoreRequests(
  registry: Registry,
  backend: string,
  requests: StoreRequests | undefined,
): void {
  const duration = new Histogram({
    name: 'leasehold_store_request_duration_seconds',
    help: 'Store requests, each once (a batch of renewals is one request)',
    labelNames: ['op', 'backend'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'leasehold_store_errors_total',
    help: 'Store requests that failed',
    labelNames: ['op', 'backend', 'code'],
    registers: [registry],
  });
  requests?.onRequest(({ op, durationMs, error }) => {
    duration.observe({ op, backend }, durationMs / 1000);
    if (error === null) return;
    const code =
      typeof error === 'object' && 'code' in (error as object)
        ? String((error as { code: unknown }).code)
        : 'unknown';
    errors.inc({ op, backend, code });
  });
}

/**
 * How often the event-loop delay monitor samples. Each sample is the time between two of its
 * timer callbacks, so an idle loop reads the resolution itself: prom-client's gauges read
 * 0.1 s on an idle sidecar. The gauges here report each sample minus the resolution: how
 * late the loop ran the timer, its real lag, to the microsecond. The resolution only sets how
 * often the loop is looked at (a stall that spans a sample is seen whole); every 10 or 20 ms
 * would cost an idle sidecar 0.3 to 0.6 % of a core (measured), every 100 ms costs 0.1 %.
 */
const EVENT_LOOP_RESOLUTION_MS = 100;

/** nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds, as prom-client names them. */
function addEventLoopDelayGauges(registry: Registry): void {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  histogram.enable();
  const lagSeconds = (ns: number): number =>
    Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS) / 1_000;
  const statistics: [string, string, () => number][] = [
    ['min', 'The minimum event loop lag since the last scrape.', () => lagSeconds(histogram.min)],
    ['max', 'The maximum event loop lag since the last scrape.', () => lagSeconds(histogram.max)],
    ['mean', 'The mean event loop lag since the last scrape.', () => lagSeconds(histogram.mean)],
    [
      'stddev',
      'The standard deviation of the event loop lag since the last scrape.',
      () => histogram.stddev / 1e9,
    ],
    ...[50, 90, 99].map((p): [string, string, () => number] => [
      `p${p}`,
      `The ${p}th percentile of the event loop lag since the last scrape.`,
      () => lagSeconds(histogram.percentile(p)),
    ]),
  ];
  const last = statistics.length - 1;
  statistics.forEach(([statistic, help, value], index) => {
    const name = `nodejs_eventloop_lag_${statistic}_seconds`;
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        // A window per scrape, as prom-client's: reset once the last of them has read it.
        this.set(histogram.count === 0 ? 0 : value());
        if (index === last) histogram.reset();
      },
    });
  });
}
