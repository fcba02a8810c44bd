import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { procStat, until } from '@leasehold/testkit';
import { runCandidatesPerTest } from './support/run-candidates.js';

/**
 * The job of `leasehold run` and its watchdog get an environment built for them (issue 24):
 * not the store URL with its password, not the admin token, not the store drivers'
 * credential variables; the variables the job is meant to read, the ordinary ones, and
 * those named by --pass-env / LEASEHOLD_PASS_ENV.
 */

const perTest = runCandidatesPerTest('env');
const dir = perTest.dir;

/** Writes its environment, as JSON, to the file named by its argument, then waits. */
const DUMP_ENV = `
  require('node:fs').writeFileSync(process.argv[2], JSON.stringify(process.env));
  setInterval(() => {}, 1000);
`;

const SECRETS = {
  // Read by the sidecar (the --store flag wins, but the variable is there to leak).
  LEASEHOLD_STORE: 'postgres://postgres:store-secret-4711@127.0.0.1:5432/test',
  LEASEHOLD_ADMIN_TOKEN: 'admin-token-secret-4712',
  PGPASSWORD: 'pg-secret-4713',
  REDISCLI_AUTH: 'redis-secret-4714',
  ETCDCTL_PASSWORD: 'etcd-secret-4715',
};

it.each([
  ['--pass-env', (names: string) => ({ args: ['--pass-env', names], env: {} })],
  ['LEASEHOLD_PASS_ENV', (names: string) => ({ args: [], env: { LEASEHOLD_PASS_ENV: names } })],
] as const)(
  'the job sees neither the store password, the admin token nor PGPASSWORD; %s passes a name',
  { timeout: 30_000 },
  async (_how, optIn) => {
    const file = join(dir, `env-${randomUUID()}.json`);
    const script = join(dir, 'dump-env.cjs');
    writeFileSync(script, DUMP_ENV);
    const { args, env } = optIn('PGAPPNAME,ETCDCTL_ENDPOINTS');
    const candidates = perTest.candidates({
      store: 'postgres://postgres@127.0.0.1:5432/test',
      job: [process.execPath, script, file],
      // A long lease: a loaded host may take seconds to start the job (nothing fails here).
      args: ['--ttl', '10s'],
      env: {
        ...SECRETS,
        ...env,
        APP_REPORT_DIR: '/srv/reports',
        PGAPPNAME: 'report-worker',
        ETCDCTL_ENDPOINTS: 'http://etcd.internal:2379',
      },
    });
    await candidates.start('c1', undefined, args);
    const seen = await until('the job’s environment', 15_000, () => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      } catch {
        return undefined;
      }
    });
    // The watchdog's environment too (the job's parent): /proc/<pid>/environ.
    const jobPid = await until('the job’s pid', 5_000, () => {
      const line = candidates.all[0]?.lines.find((l) => l.includes('"command-started"'));
      return line === undefined ? undefined : Number((JSON.parse(line) as { pid: number }).pid);
    });
    const watchdogPid = procStat(String(jobPid))?.ppid ?? 0;
    const watchdogEnv = readFileSync(`/proc/${watchdogPid}/environ`, 'utf8');
    expect(watchdogEnv).toContain('LEASEHOLD_ELECTION=');

    const everything = `${JSON.stringify(seen)}\n${watchdogEnv}`;
    for (const secret of Object.values(SECRETS)) expect(everything).not.toContain(secret);
    expect(
      Object.keys(seen)
        .filter((name) => name.startsWith('LEASEHOLD_'))
        .sort(),
    ).toEqual(['LEASEHOLD_ELECTION', 'LEASEHOLD_ID', 'LEASEHOLD_TERM']);
    expect(seen).toMatchObject({
      LEASEHOLD_ID: 'c1',
      APP_REPORT_DIR: '/srv/reports',
      PGAPPNAME: 'report-worker',
      ETCDCTL_ENDPOINTS: 'http://etcd.internal:2379',
      PATH: process.env.PATH,
    });
    expect(seen.LEASEHOLD_TERM).toMatch(/^\d+$/);
  },
);
