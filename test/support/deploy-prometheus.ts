import { list, mapping, readRepoFile, text, yaml, type Mapping } from './repo-files.js';

// The alert rules and the Grafana dashboard of deploy/prometheus, as the tests read them.

export const PROMETHEUS_DIR = 'deploy/prometheus';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
}

export const alertRules: AlertRule[] = list(
  mapping(yaml.parse(readRepoFile(`${PROMETHEUS_DIR}/leasehold-alerts.yml`)), 'rules').groups,
  'groups',
).flatMap((group) => list(mapping(group, 'group').rules, 'rules') as AlertRule[]);

export const dashboard: Mapping = mapping(
  JSON.parse(readRepoFile(`${PROMETHEUS_DIR}/grafana-dashboard.json`)),
  'grafana-dashboard.json',
);

export const dashboardPanels: Mapping[] = list(dashboard.panels, 'panels').map((p, i) =>
  mapping(p, `panels[${i}]`),
);

/** Every panel's PromQL, with Grafana's variables left in. */
export const dashboardQueries: string[] = dashboardPanels.flatMap((panel) =>
  list(panel.targets, 'targets').map((t) => text(mapping(t, 'target').expr, 'expr')),
);
