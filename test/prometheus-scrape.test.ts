import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ProcessGroup, until, SIDECAR_BIN as BIN } from '@leasehold/testkit';
import { dashboardQueries } from './support/deploy-prometheus.js';
import { PrometheusServer, type Sample } from './support/prometheus.js';
import { root } from './support/repo-files.js';
import { explain, requireTool, runTool } from './support/tools.js';

// A real Prometheus scrapes three real sidecars on the shared Redis, with the alert rules
// of deploy/prometheus loaded: one leader at a time, a new one soon after the leader is
// SIGKILLed, and the "more than one leader" alert never even pending; then a fourth sidecar
// with the same election name on another store prefix makes it pending, which shows the
// rule watches the same series the first part reads.

const REDIS = 'redis://127.0.0.1:6379';
const TTL_MS = 2_000;
const SCRAPE_MS = 500;
const ELECTION = `lhops-prom-${randomUUID().slice(0, 8)}`;
const ALERTS = `${root}/deploy/prometheus/leasehold-alerts.yml`;
const LEADERS = `sum by (election) (leasehold_is_leader{election="${ELECTION}"})`;

interface Sidecar {
  readonly port: number;
  readonly process: ProcessGroup;
}

const sidecars: Sidecar[] = [];
let prometheus: PrometheusServer;
/** Scraped from the start, started only by the last test. */
let sparePort: number;

async function startSidecar(port: number, storePrefix: string): Promise<Sidecar> {
  const sidecar = {
    port,
    process: new ProcessGroup(process.execPath, [
      BIN,
      ...['--store', REDIS, '--store-prefix', storePrefix, '--election', ELECTION],
      ...['--id', `lhops-${port}`, '--port', String(port), '--ttl', `${TTL_MS}ms`],
      ...['--retry-interval', '200ms', '--log-level', 'warn'],
    ]),
  };
  sidecars.push(sidecar);
  await until(`sidecar on ${port} answering`, 15_000, () => {
    sidecar.process.assertRunning(`sidecar on ${port}`);
    return answers(`http://127.0.0.1:${port}/healthz`);
  });
  return sidecar;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/** Poll an instant query until `accept` holds for its samples; returns them. */
async function queryUntil(
  expr: string,
  accept: (samples: Sample[]) => boolean,
  withinMs: number,
): Promise<Sample[]> {
  let samples: Sample[] = [];
  try {
    await until(expr, withinMs, async () => accept((samples = await prometheus.query(expr))));
  } catch (error) {
    throw new Error(`${(error as Error).message}; last answer ${JSON.stringify(samples)}`);
  }
  return samples;
}

const leaderCount = (samples: Sample[]): number | undefined => samples[0]?.value;

beforeAll(async () => {
  requireTool('promtool');
  requireTool('prometheus');
  // Ports picked up front: Prometheus's targets are static, the fourth sidecar starts later.
  const ports = [await freePort(), await freePort(), await freePort()];
  sparePort = await freePort();
  prometheus = new PrometheusServer({
    port: await freePort(),
    targets: [...ports, sparePort].map((port) => `127.0.0.1:${port}`),
    ruleFiles: [ALERTS],
    intervalMs: SCRAPE_MS,
  });
  await Promise.all([prometheus.start(), ...ports.map((port) => startSidecar(port, 'lhops'))]);
}, 60_000);

afterAll(async () => {
  await Promise.all([...sidecars.map((s) => s.process.kill()), prometheus?.stop()]);
  expect(sidecars.filter((s) => s.process.alive())).toEqual([]);
  expect(prometheus?.alive()).toBe(false);
});

describe('Prometheus and three sidecars', () => {
  it('promtool check metrics accepts a live /metrics', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${sidecars[0]?.port}/metrics`)).text();
    expect(metrics).toContain('leasehold_is_leader');
    const result = runTool('promtool', ['check', 'metrics'], { input: metrics });
    expect(result.status, explain('promtool check metrics', result)).toBe(0);
  });

  it('reads one leader, and one again within the TTL (plus a scrape) after the leader is SIGKILLed', async () => {
    await queryUntil(LEADERS, (s) => leaderCount(s) === 1, 15_000);
    // Every sidecar scraped, so the sum counts all three.
    await queryUntil(
      `count(leasehold_is_leader{election="${ELECTION}"})`,
      (s) => s[0]?.value === 3,
      10_000,
    );
    const [leading] = await prometheus.query(`leasehold_is_leader{election="${ELECTION}"} == 1`);
    const leader = sidecars.find((s) => leading?.metric.instance === `127.0.0.1:${s.port}`);
    if (leader === undefined) throw new Error(`no sidecar is ${JSON.stringify(leading)}`);

    const killedAt = performance.now();
    leader.process.signal('SIGKILL');
    await queryUntil(
      `${LEADERS} and on (election) (leasehold_is_leader{election="${ELECTION}", instance!="${leading?.metric.instance}"} == 1)`,
      (s) => leaderCount(s) === 1,
      TTL_MS + 5_000,
    );
    const elapsedMs = performance.now() - killedAt;
    if (process.env.LEASEHOLD_TEST_TIMINGS) {
      console.log(`new leader in Prometheus ${elapsedMs.toFixed(0)} ms after SIGKILL`);
    }
    // Within the TTL, plus a scrape to see it and slack for a loaded machine.
    expect(elapsedMs).toBeLessThan(TTL_MS + 2 * SCRAPE_MS + 1_500);
  });

  it('never saw two leaders, and the "more than one leader" alert was never pending', async () => {
    const [most] = await prometheus.query(`max_over_time((${LEADERS})[5m:100ms])`);
    expect(most?.value).toBe(1);
    const alerts = await prometheus.query(
      `ALERTS{alertname="LeaseholdMultipleLeaders", election="${ELECTION}"}`,
    );
    expect(alerts).toEqual([]);
    const ever = await prometheus.query(
      `count_over_time(ALERTS{alertname="LeaseholdMultipleLeaders", election="${ELECTION}"}[5m])`,
    );
    expect(ever).toEqual([]);
  });

  it('evaluates every rule of deploy/prometheus without an error', async () => {
    const data = (await prometheus.api('/api/v1/rules')) as {
      groups: { rules: { name: string; health: string; lastError?: string }[] }[];
    };
    const rules = data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
  });

  it('answers every dashboard query, with data where the sidecars have some', async () => {
    for (const query of dashboardQueries) {
      const expr = query
        .replaceAll('$election', ELECTION)
        .replaceAll('$__rate_interval', `${4 * SCRAPE_MS}ms`);
      const samples = await prometheus.query(expr);
      // No store call has failed, so the error panel alone has nothing to show.
      if (!expr.includes('leasehold_store_errors_total'))
        expect(samples.length, expr).toBeGreaterThan(0);
    }
  });

  it('has that alert pending once a second group elects its own leader under the same name', async () => {
    // Another store prefix: another lock, so this sidecar leads too.
    await startSidecar(sparePort, 'lhops_split');
    await queryUntil(LEADERS, (s) => leaderCount(s) === 2, 10_000);
    await queryUntil(
      `ALERTS{alertname="LeaseholdMultipleLeaders", election="${ELECTION}", alertstate="pending"}`,
      (s) => s.length === 1,
      5_000,
    );
  });
});
