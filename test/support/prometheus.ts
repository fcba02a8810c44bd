import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ProcessGroup, until } from '@leasehold/testkit';
import { requireTool } from './tools.js';

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/**
 * A real Prometheus server (Debian's `prometheus`) on 127.0.0.1, with its data in a
 * temporary directory, scraping `targets` every `intervalMs` and evaluating `ruleFiles`
 * as often.
 */
export class PrometheusServer {
  private readonly dir = mkdtempSync(`${tmpdir()}/lhops-prometheus-`);
  private process: ProcessGroup | undefined;

  constructor(
    private readonly options: {
      readonly port: number;
      readonly targets: readonly string[];
      readonly ruleFiles: readonly string[];
      readonly intervalMs: number;
    },
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    const { intervalMs, ruleFiles, targets, port } = this.options;
    const config = {
      global: {
        scrape_interval: `${intervalMs}ms`,
        scrape_timeout: `${Math.floor(intervalMs * 0.8)}ms`,
        evaluation_interval: `${intervalMs}ms`,
      },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'leasehold', static_configs: [{ targets }] }],
    };
    // JSON is YAML: no YAML writer needed.
    writeFileSync(`${this.dir}/prometheus.yml`, JSON.stringify(config));
    this.process = new ProcessGroup(requireTool('prometheus'), [
      `--config.file=${this.dir}/prometheus.yml`,
      `--storage.tsdb.path=${this.dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    const server = this.process;
    await until('prometheus ready', 30_000, () => {
      server.assertRunning('prometheus');
      return this.ready();
    });
  }

  private async ready(): Promise<boolean> {
    try {
      return (await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok;
    } catch {
      return false;
    }
  }

  /** GET an API path and return its `data`, failing on an error answer. */
  async api(path: string): Promise<unknown> {
    const response = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`);
    return body.data;
  }

  /** An instant query's samples. */
  async query(expr: string): Promise<Sample[]> {
    const data = (await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Stop the server (its whole process group) and remove its data. */
  async stop(): Promise<void> {
    await this.process?.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Whether anything of the server's process group is left running. */
  alive(): boolean {
    return this.process?.alive() ?? false;
  }
}
