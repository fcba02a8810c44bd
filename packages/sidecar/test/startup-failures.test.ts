import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, PgBouncerFront, PostgresServer, TestCertificates } from '@leasehold/testkit';
import { BIN, SidecarProcesses, oneLeader } from './helpers/sidecar-processes.js';

/**
 * Start-up failures of the real `leasehold` command, as a new user meets them: each exits
 * with its code and exactly one line on stderr, without a stack trace and without the
 * secrets it was given; none leaves a lease held behind it.
 */

const SECRET = 'hunter2-lhsu-secret';
const TOKEN = 'lhsu-admin-token-0123456789';
const STORES = {
  // The shared Redis has no password; given one, ioredis warns on stderr itself.
  redis: 'redis://127.0.0.1:6379',
  postgres: `postgres://postgres:${SECRET}@127.0.0.1:5432/test`,
  etcd: 'etcd://127.0.0.1:2379',
} as const;
const TLS_STORES = {
  redis: `rediss://:${SECRET}@127.0.0.1:6379`,
  postgres: `postgres://postgres:${SECRET}@127.0.0.1:5432/test?sslmode=verify-full`,
  etcd: `etcds://root:${SECRET}@127.0.0.1:2379`,
} as const;
const BACKENDS = Object.keys(STORES) as (keyof typeof STORES)[];

const dir = mkdtempSync(join(tmpdir(), 'lhsu-startup-'));
// Readable by the unprivileged user some cases run as.
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o644 });
  return path;
};

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Each process exits by itself; one that hangs is killed at its deadline, and none is left.
const children = new Set<number>();
afterAll(() => {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  children.clear();
});

/** Run `leasehold` to its exit (at most 30 s), optionally as the unprivileged `nobody`. */
function leasehold(
  args: readonly string[],
  options: { asNobody?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Outcome> {
  const command = options.asNobody
    ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath]
    : [process.execPath];
  const [executable = '', ...prefix] = command;
  const child = spawn(executable, [...prefix, BIN, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LEASEHOLD_ELECTION: `lhsu-${randomUUID().slice(0, 8)}`,
      LEASEHOLD_ADMIN_TOKEN: TOKEN,
      ...options.env,
    },
  });
  if (child.pid !== undefined) children.add(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) children.delete(child.pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The outcome every start-up failure must have; returns its one line. */
function expectOneLine(outcome: Outcome, code: number, fragment: string | RegExp): string {
  const lines = outcome.stderr.split('\n').filter((line) => line !== '');
  expect(lines, outcome.stderr).toHaveLength(1);
  const [line = ''] = lines;
  expect(line).toMatch(/^leasehold: /);
  expect(line).toMatch(fragment);
  expect(line).not.toMatch(/\bat .*:\d+:\d+|Error:|Node\.js v/);
  expect(outcome.code, line).toBe(code);
  for (const secret of [SECRET, TOKEN, ...keyMaterial]) {
    expect(outcome.stderr).not.toContain(secret);
    expect(outcome.stdout).not.toContain(secret);
  }
  return line;
}

/** Lines of the private keys the TLS cases use: never to be shown. */
const keyMaterial: string[] = [];

const isRoot = process.getuid?.() === 0;
const unprivilegedPortStart = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
})();

describe('the HTTP port', () => {
  let busy: Server;
  let busyPort = 0;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(() => busy.close());
  const processes = new SidecarProcesses(10_000);
  const shortLived = new SidecarProcesses(2_000);
  afterEach(() => {
    processes.killAll();
    shortLived.killAll();
  });

  it.each(BACKENDS)(
    'in use: exit 1 naming the address, and the election is left to the next candidate (%s)',
    { timeout: 40_000 },
    async (backend) => {
      const election = `lhsu-busy-${randomUUID().slice(0, 8)}`;
      // An election that has had a leader: a fresh one on Redis makes its first leader wait
      // a TTL (the term counter is new), which would hide what this test looks for.
      const earlier = await shortLived.start(STORES[backend], election, 'earlier');
      await oneLeader([earlier], 15_000);
      earlier.child.kill('SIGTERM');
      expect(await earlier.exited).toBe(0);
      const failed = await leasehold(
        [
          '--store',
          STORES[backend],
          '--port',
          String(busyPort),
          '--admin-token',
          TOKEN,
          '--ttl',
          '10s',
        ],
        { env: { LEASEHOLD_ELECTION: election } },
      );
      expectOneLine(
        failed,
        1,
        `cannot listen on 127.0.0.1:${busyPort}: the address is already in use (another leasehold, or your app, on that port?); choose a free port with --port or LEASEHOLD_PORT, or --port 0 for any free port`,
      );
      // Nothing held: the next candidate leads at once, not after the 10 s TTL.
      const next = await processes.start(STORES[backend], election, 'next');
      await oneLeader([next], 3_000);
    },
  );

  it.runIf(isRoot && unprivilegedPortStart > 80)(
    'privileged, as a user without the privilege: exit 1 saying so',
    { timeout: 30_000 },
    async () => {
      const outcome = await leasehold(['--store', STORES.etcd, '--port', '80'], {
        asNobody: true,
      });
      expectOneLine(
        outcome,
        1,
        `cannot listen on 127.0.0.1:80: permission denied; ports below ${unprivilegedPortStart} need root or CAP_NET_BIND_SERVICE and this runs as user nobody`,
      );
    },
  );

  it('on an address this host does not have: exit 1 saying so', { timeout: 30_000 }, async () => {
    // 192.0.2.0/24 is reserved for documentation: never an address of this host.
    const outcome = await leasehold([
      '--store',
      STORES.etcd,
      '--host',
      '192.0.2.7',
      '--port',
      '4999',
    ]);
    expectOneLine(
      outcome,
      1,
      'cannot listen on 192.0.2.7:4999: 192.0.2.7 is not an address of this host; set --host or LEASEHOLD_HOST',
    );
  });
});

describe.concurrent('configuration', () => {
  it(
    'an SQLite file in a directory this user cannot write: exit 2',
    { timeout: 30_000 },
    async () => {
      // Root may write anywhere; a path under a regular file fails for everyone.
      const blocker = file('not-a-directory', '');
      const outcome = await leasehold(['--store', `sqlite://${blocker}/leases.db`, '--port', '0']);
      expectOneLine(
        outcome,
        2,
        /^leasehold: invalid store \(flag --store\): ".*not-a-directory\/leases\.db"; cannot create the directory/,
      );
    },
  );

  it.runIf(isRoot)(
    'an SQLite file in a read-only directory, as an unprivileged user: exit 2',
    { timeout: 30_000 },
    async () => {
      const readOnly = join(dir, 'read-only');
      execFileSync('mkdir', ['-m', '755', readOnly]);
      const outcome = await leasehold(
        ['--store', `sqlite://${readOnly}/leases.db`, '--port', '0'],
        {
          asNobody: true,
        },
      );
      expectOneLine(outcome, 2, 'the SQLite file cannot be opened for writing');
    },
  );

  it('a missing YAML file: exit 2', { timeout: 30_000 }, async () => {
    const outcome = await leasehold(['--config', join(dir, 'missing.yaml')]);
    expectOneLine(
      outcome,
      2,
      `leasehold: cannot read config file ${join(dir, 'missing.yaml')} (ENOENT); give --config / LEASEHOLD_CONFIG a readable YAML file`,
    );
  });

  it('a malformed YAML file: exit 2, quoting none of it', { timeout: 30_000 }, async () => {
    const path = file('malformed.yaml', `adminToken: "${TOKEN}\nstore: [\n`);
    const outcome = await leasehold(['--config', path]);
    expectOneLine(outcome, 2, `leasehold: config file ${path} is not valid YAML: `);
  });

  it(
    'an unknown YAML key: exit 2 with the key it resembles, never its value',
    { timeout: 30_000 },
    async () => {
      const path = file('unknown-key.yaml', `admin_token: ${TOKEN}\n`);
      const outcome = await leasehold(['--config', path]);
      expectOneLine(
        outcome,
        2,
        `leasehold: unknown key "admin_token" in config file ${path}; did you mean adminToken?`,
      );
    },
  );

  it('an unknown store scheme: exit 2, password masked', { timeout: 30_000 }, async () => {
    const outcome = await leasehold(['--store', `mongodb://app:${SECRET}@db:27017`]);
    expectOneLine(
      outcome,
      2,
      'leasehold: invalid store (flag --store): "mongodb://app:***@db:27017"; a URL with scheme',
    );
  });

  it('`run` with an executable that does not exist: exit 2', { timeout: 30_000 }, async () => {
    const outcome = await leasehold(['run', '--store', STORES.redis, '--', 'lhsu-no-such-command']);
    expectOneLine(
      outcome,
      2,
      'leasehold: invalid command: "lhsu-no-such-command"; an executable file, by path or on PATH',
    );
  });
});

describe.concurrent.each(BACKENDS)('the store, %s', (backend) => {
  it('a host name DNS does not know: exit 2 saying it is DNS', { timeout: 30_000 }, async () => {
    const url = STORES[backend].replace('127.0.0.1', 'lhsu-no-such-host.invalid');
    const outcome = await leasehold(['--store', url, '--port', '0']);
    expectOneLine(
      outcome,
      2,
      'leasehold: invalid store host (flag --store): "lhsu-no-such-host.invalid"; a host name DNS can resolve; DNS has no address for this one (ENOTFOUND)',
    );
  });

  it.each(BACKENDS.filter((other) => other !== backend))(
    'a URL pointing at %s: exit 1, protocol mismatch',
    { timeout: 30_000 },
    async (other) => {
      const port = new URL(STORES[other]).port;
      const url = STORES[backend].replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`);
      const outcome = await leasehold(['--store', url, '--port', '0']);
      expectOneLine(outcome, 1, `leasehold: protocol mismatch: 127.0.0.1:${port} is a`);
    },
  );
});

describe('PostgreSQL behind PgBouncer', () => {
  let server: PostgresServer;
  let pooler: PgBouncerFront;
  beforeAll(async () => {
    const place = { address: '127.0.0.1', open: false };
    server = await PostgresServer.start({ ...place, port: await freePort() });
    pooler = await PgBouncerFront.before(server, place, await freePort(), 'transaction');
  }, 60_000);
  afterAll(async () => {
    await pooler.close();
    await server.close();
  });

  it(
    'in transaction pooling: exit 1 naming the mode and the fix',
    { timeout: 30_000 },
    async () => {
      const url = pooler.url.replace('postgres@', `postgres:${SECRET}@`);
      const outcome = await leasehold(['--store', url, '--port', '0']);
      expectOneLine(
        outcome,
        1,
        /^leasehold: postgres at 127\.0\.0\.1:\d+\/postgres is behind a pooler in transaction pooling mode, .*pool_mode = session/,
      );
    },
  );
});

describe('TLS files, the same line on every backend', () => {
  let pki: { ca: string; cert: string; key: string; otherKey: string };
  const certificates: TestCertificates[] = [];
  beforeAll(() => {
    // The other set's key belongs to another certificate.
    const [own, other] = [TestCertificates.create(), TestCertificates.create()];
    certificates.push(own, other);
    for (const key of [own.clientKey, other.clientKey]) {
      keyMaterial.push(key.split('\n')[1] ?? '');
    }
    pki = {
      ca: own.caFile,
      cert: own.clientCertFile,
      key: own.clientKeyFile,
      otherKey: other.clientKeyFile,
    };
  });
  afterAll(() => {
    for (const set of certificates.splice(0)) set.dispose();
  });

  const junk = () => file('junk.pem', `not a certificate ${SECRET}\n`);
  const cases: [string, () => string[], string][] = [
    ['a junk CA', () => ['--store-ca', junk()], 'invalid store-ca (flag --store-ca): "'],
    [
      'a junk certificate',
      () => ['--store-ca', pki.ca, '--store-cert', junk(), '--store-key', pki.key],
      'invalid store-cert (flag --store-cert): "',
    ],
    [
      'a junk key',
      () => ['--store-ca', pki.ca, '--store-cert', pki.cert, '--store-key', junk()],
      'invalid store-key (flag --store-key): "',
    ],
    [
      "a key that is not the certificate's",
      () => ['--store-ca', pki.ca, '--store-cert', pki.cert, '--store-key', pki.otherKey],
      'this key belongs to another certificate',
    ],
  ];

  it.each(cases)('%s: exit 2', { timeout: 60_000 }, async (_what, args, fragment) => {
    const lines = await Promise.all(
      BACKENDS.map(async (backend) =>
        expectOneLine(
          await leasehold(['--store', TLS_STORES[backend], '--port', '0', ...args()]),
          2,
          fragment,
        ),
      ),
    );
    expect(new Set(lines).size).toBe(1);
  });
});

describe('in the words the user wrote, on ZooKeeper and for every command', () => {
  const zookeeper = 'zk://127.0.0.1:2181';

  it('a zk:// URL at a Redis port: exit 1, protocol mismatch', { timeout: 40_000 }, async () => {
    const outcome = await leasehold(['--store', 'zk://127.0.0.1:6379', '--port', '0']);
    expectOneLine(
      outcome,
      1,
      'leasehold: protocol mismatch: 127.0.0.1:6379 is a Redis server, not a ZooKeeper server',
    );
  });

  it(
    'a TTL beyond the ZooKeeper session timeout: exit 2, naming --ttl as written',
    {
      timeout: 30_000,
    },
    async () => {
      const outcome = await leasehold(['--store', zookeeper, '--ttl', '24h', '--port', '0']);
      expectOneLine(
        outcome,
        2,
        /^leasehold: invalid ttl \(flag --ttl\): "24h"; the ZooKeeper session/,
      );
    },
  );

  it(
    'a CA file on zk:// that holds no certificate: exit 2, naming --store-ca',
    {
      timeout: 30_000,
    },
    async () => {
      // zk:// with --store-ca dials ZooKeeper's TLS port; the file is read first, as named.
      const ca = join(dir, 'zk-not-a-ca.pem');
      writeFileSync(ca, 'not a certificate\n');
      const outcome = await leasehold(['--store', zookeeper, '--store-ca', ca, '--port', '0']);
      expectOneLine(
        outcome,
        2,
        `leasehold: invalid store-ca (flag --store-ca): "${ca}"; a PEM file of CA certificates`,
      );
    },
  );

  it('`status --url` that is not a URL: exit 2', { timeout: 30_000 }, async () => {
    const outcome = await leasehold(['status', '--url', 'notaurl']);
    expectOneLine(outcome, 2, 'leasehold: invalid url (flag --url): "notaurl"; ');
  });

  it('an unknown option points at a help that lists the options', { timeout: 30_000 }, async () => {
    const outcome = await leasehold(['status', '--bogus']);
    expectOneLine(outcome, 2, '(leasehold status --help lists its options)');
    const help = await leasehold(['status', '--help']);
    expect(help.stdout).toContain('--url');
    const served = await leasehold(['--bogus']);
    expectOneLine(served, 2, '(leasehold serve --help lists its options)');
    expect((await leasehold(['serve', '--help'])).stdout).toContain('--store');
    expectOneLine(await leasehold(['frob']), 2, '(leasehold --help lists the commands)');
  });
});
