import { loadConfig, parseDuration } from '@leasehold/sidecar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSidecar, type ProbeSidecar } from './support/probe-sidecar.js';
import {
  PROMETHEUS_DIR as DIR,
  alertRules as rules,
  dashboard,
  dashboardPanels as panels,
  dashboardQueries as panelExprs,
} from './support/deploy-prometheus.js';
import { list, mapping, readRepoFile, root, yaml } from './support/repo-files.js';
import { explain, runTool } from './support/tools.js';

// promtool checks the alert rules, runs their unit tests and checks the example
// configuration; this holds the rules and the Grafana dashboard to the metrics the sidecar
// exports and to docs/monitoring.md. test/prometheus-scrape.test.ts evaluates them all in a
// real Prometheus against real sidecars.

/** Metric names an expression reads (the leasehold_* ones). */
const metricsIn = (expr: string): string[] =>
  [...expr.matchAll(/\bleasehold_\w+/g)].map((m) => m[0]);

/** What steering shows in metrics (docs/design.md §3.6): drain, health, transfers. */
const STEERING_METRICS = [
  'leasehold_drained',
  'leasehold_app_healthy',
  'leasehold_transferring',
  'leasehold_transfers_total',
];

let sidecar: ProbeSidecar;
/** Series names the sidecar exports, histograms with their _bucket/_sum/_count. */
let exported: Set<string>;

beforeAll(async () => {
  sidecar = await probeSidecar();
  const body = (await sidecar.request('/metrics')).body;
  exported = new Set(
    [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name = '', type]) =>
      type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
    ),
  );
});

afterAll(() => sidecar.close());

describe('deploy/prometheus', () => {
  it('promtool check rules accepts the alert rules', () => {
    const result = runTool('promtool', ['check', 'rules', `${DIR}/leasehold-alerts.yml`], {
      cwd: root,
    });
    expect(result.status, explain('promtool check rules', result)).toBe(0);
  });

  it('promtool test rules passes every alert’s unit tests', () => {
    const result = runTool('promtool', ['test', 'rules', 'leasehold-alerts.test.yml'], {
      cwd: `${root}/${DIR}`,
    });
    expect(result.status, explain('promtool test rules', result)).toBe(0);
  });

  it('promtool check config accepts the example configuration', () => {
    const result = runTool('promtool', ['check', 'config', 'prometheus.yml'], {
      cwd: `${root}/${DIR}`,
    });
    expect(result.status, explain('promtool check config', result)).toBe(0);
  });

  it('has the nine alerts, each tested firing and staying quiet', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'LeaseholdAllCandidatesDrained',
      'LeaseholdLeaderAppUnhealthy',
      'LeaseholdLeadershipFlapping',
      'LeaseholdLeaseNearlyExpired',
      'LeaseholdMultipleLeaders',
      'LeaseholdNoLeader',
      'LeaseholdStoreErrors',
      'LeaseholdTransferStuck',
      'LeaseholdTransfersFailing',
    ]);
    const tests = list(
      mapping(yaml.parse(readRepoFile(`${DIR}/leasehold-alerts.test.yml`)), 'tests').tests,
      'tests',
    ).flatMap((t) => list(mapping(t, 'test').alert_rule_test ?? [], 'alert_rule_test'));
    for (const { alert } of rules) {
      const cases = tests.map((t) => mapping(t, 'case')).filter((t) => t.alertname === alert);
      const expected = cases.map((t) => list(t.exp_alerts, 'exp_alerts').length);
      expect(
        expected.some((n) => n > 0),
        `${alert} has a case where it fires`,
      ).toBe(true);
      expect(
        expected.some((n) => n === 0),
        `${alert} has a case where it stays quiet`,
      ).toBe(true);
    }
  });

  it('waits twice the default TTL before "no leader"', () => {
    const noLeader = rules.find((r) => r.alert === 'LeaseholdNoLeader');
    const waits = parseDuration(noLeader?.for ?? '');
    expect(waits).toBe(2 * loadConfig({ flags: {}, env: {} }).ttlMs);
  });

  it('reads only metrics the sidecar exports, in the rules and the dashboard', () => {
    const used = [...rules.map((r) => r.expr), ...panelExprs].flatMap(metricsIn);
    expect(used.length).toBeGreaterThan(0);
    expect([...new Set(used)].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('documents every alert in docs/monitoring.md', () => {
    const doc = readRepoFile('docs/monitoring.md');
    for (const { alert } of rules) expect(doc).toContain(`### ${alert}`);
  });

  it('alerts on every steering metric (issue 26)', () => {
    const used = new Set(rules.flatMap((r) => metricsIn(r.expr)));
    for (const metric of STEERING_METRICS) expect(used, metric).toContain(metric);
  });

  it('has a dashboard of leader, term, transitions, store latency, errors and steering', () => {
    expect(dashboard.uid).toBe('leasehold');
    const used = new Set(panelExprs.flatMap(metricsIn));
    for (const metric of [
      'leasehold_is_leader',
      'leasehold_term',
      'leasehold_transitions_total',
      'leasehold_store_request_duration_seconds_bucket',
      'leasehold_store_errors_total',
      ...STEERING_METRICS,
    ]) {
      expect(used, metric).toContain(metric);
    }
    // Every panel queries the Prometheus the person importing it picks.
    const variables = list(mapping(dashboard.templating, 'templating').list, 'list').map((v) =>
      mapping(v, 'variable'),
    );
    expect(variables.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    for (const panel of panels) {
      expect(mapping(panel.datasource, 'datasource').uid, String(panel.title)).toBe(
        '${datasource}',
      );
    }
  });
});
