import {
  DEFAULT_STORE,
  FIELDS,
  loadConfig,
  parseDuration,
  type SidecarConfig,
} from '@leasehold/sidecar';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mapping,
  readRepoFile,
  root,
  strings,
  text,
  yaml,
  type Mapping,
} from './support/repo-files.js';
import { probeSidecar, type ProbeSidecar } from './support/probe-sidecar.js';

// No Docker engine runs the Dockerfile or docker-compose.yml in CI, so this reads them and
// holds them to the code they deploy: the configuration schema, the server's routes, the
// sidecar package's layout and the pinned pnpm.

/** Compose's `${NAME:-default}` / `${NAME-default}` / `${NAME}` and `$$`, as `docker compose` does. */
function interpolate(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g,
    (match, name: string | undefined, colon: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '$';
      const set = env[name];
      if (set !== undefined && !(colon === ':' && set === '')) return set;
      return fallback ?? '';
    },
  );
}

// ---- the files ----

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 0 for the first FROM's stage, 1 for the next, … */
  readonly stage: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(source: string): Instruction[] {
  const instructions: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const line of source.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, '').trim()} `;
    if (continued) continue;
    const joined = pending.trim();
    pending = '';
    if (joined === '') continue;
    const match = /^(\w+)\s+([\s\S]*)$/.exec(joined);
    if (match?.[1] === undefined || match[2] === undefined) throw new Error(`bad line: ${joined}`);
    const keyword = match[1].toUpperCase();
    if (keyword === 'FROM') stage += 1;
    instructions.push({ keyword, args: match[2].replace(/\s+/g, ' ').trim(), stage });
  }
  return instructions;
}

const dockerfileSource = readRepoFile('Dockerfile');
const dockerfile = parseDockerfile(dockerfileSource);
const runtimeStage = Math.max(...dockerfile.map((i) => i.stage));
const inRuntime = dockerfile.filter((i) => i.stage === runtimeStage);
const composeSource = readRepoFile('docker-compose.yml');
// Compose honours YAML merge keys (`<<: *anchor`); YAML 1.2 parsers need to be told.
const compose = mapping(yaml.parse(composeSource, { merge: true }), 'docker-compose.yml');
const services = mapping(compose.services, 'services');
const sidecarManifest = mapping(
  JSON.parse(readRepoFile('packages/sidecar/package.json')),
  'packages/sidecar/package.json',
);
const defaults: SidecarConfig = loadConfig({ flags: {}, env: {} });

function instructionsOf(keyword: string, stage?: number): Instruction[] {
  return dockerfile.filter(
    (i) => i.keyword === keyword && (stage === undefined || i.stage === stage),
  );
}

function onlyInstruction(keyword: string, stage: number): Instruction {
  const found = instructionsOf(keyword, stage);
  const [only] = found;
  if (only === undefined || found.length > 1) {
    throw new Error(`expected exactly one ${keyword} in stage ${stage}, found ${found.length}`);
  }
  return only;
}

function service(name: string): Mapping {
  return mapping(services[name], `services.${name}`);
}

/** A sidecar's environment with compose's defaults filled in (no variables set). */
function sidecarEnv(name: string): Record<string, string> {
  const environment = mapping(service(name).environment, `services.${name}.environment`);
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), {})]),
  );
}

/** The store each backend runs as in compose, and the port its clients use by default. */
const STORES = {
  redis: { service: 'redis', image: /^redis:7-alpine$/, port: 6379, probe: 'redis-cli' },
  postgres: { service: 'postgres', image: /^postgres:16-alpine$/, port: 5432, probe: 'pg_isready' },
  etcd: {
    service: 'etcd',
    image: /^quay\.io\/coreos\/etcd:v3\.5\.\d+$/,
    port: 2379,
    probe: 'etcdctl',
  },
  zookeeper: { service: 'zookeeper', image: /^zookeeper:3\.8$/, port: 2181, probe: 'zkServer.sh' },
} as const;
type Backend = keyof typeof STORES;
const BACKEND_OF_SCHEME: Readonly<Record<string, Backend>> = {
  'redis:': 'redis',
  'rediss:': 'redis',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'etcd:': 'etcd',
  'etcds:': 'etcd',
  'zk:': 'zookeeper',
};

const sidecarNames = Object.keys(services).filter((name) => /^leasehold\d+$/.test(name));

/** The default store URL and the alternatives the header comment tells people to use. */
function composeStoreUrls(): string[] {
  const urls = new Set(sidecarNames.map((name) => sidecarEnv(name).LEASEHOLD_STORE ?? ''));
  for (const match of composeSource.matchAll(/^#.*\bLEASEHOLD_STORE=(\S+)/gm)) {
    if (match[1] !== undefined) urls.add(match[1]);
  }
  return [...urls];
}

// ---- a real server, for the routes the files point at ----

/** Exit code of `node -e script`, run asynchronously so this process's server can answer it. */
async function exitCodeOf(script: string, env: Record<string, string>): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
    timeout: 10_000,
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

let server: ProbeSidecar;
let serverUrl: string;
let sidecar: ProbeSidecar;

beforeAll(async () => {
  sidecar = await probeSidecar();
  server = sidecar;
  serverUrl = server.url;
});

afterAll(() => sidecar.close());

describe('Dockerfile', () => {
  it('builds and runs on Node 24 in two stages', () => {
    const bases = instructionsOf('FROM').map((i) => i.args.split(' ')[0]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toMatch(/^node:24[.-]/);
  });

  it('installs the pnpm that package.json pins, with npm and never corepack', () => {
    const rootManifest = mapping(JSON.parse(readRepoFile('package.json')), 'package.json');
    const pinned = /^pnpm@(\d+\.\d+\.\d+)$/.exec(
      text(rootManifest.packageManager, 'packageManager'),
    );
    expect(pinned?.[1]).toMatch(/^10\./);
    const installs = instructionsOf('RUN')
      .map((i) => /\bnpm install (?:.*\s)?(?:-g|--global)\b.*\bpnpm@(\S+)/.exec(i.args)?.[1])
      .filter((version) => version !== undefined);
    expect(installs).toEqual([pinned?.[1]]);
    for (const i of dockerfile) expect(i.args).not.toMatch(/corepack/i);
  });

  it('copies every workspace manifest before the frozen install, then builds', () => {
    const installAt = dockerfile.findIndex(
      (i) => i.keyword === 'RUN' && /\bpnpm install\b.*--frozen-lockfile/.test(i.args),
    );
    expect(installAt, 'RUN pnpm install --frozen-lockfile').toBeGreaterThan(0);
    const copiedBefore = dockerfile
      .slice(0, installAt)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(' ').slice(0, -1));
    const workspaceManifests = readdirSync(`${root}/packages`)
      .filter((dir) => existsSync(`${root}/packages/${dir}/package.json`))
      .map((dir) => `packages/${dir}/package.json`);
    expect(workspaceManifests.length).toBeGreaterThan(0);
    for (const manifest of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      ...workspaceManifests,
    ]) {
      expect(copiedBefore, `${manifest} copied before pnpm install`).toContain(manifest);
    }
    const buildAt = dockerfile.findIndex(
      (i) => i.keyword === 'RUN' && /\bpnpm run build\b/.test(i.args),
    );
    expect(buildAt).toBeGreaterThan(installAt);
  });

  it('has a compiler for the native dependencies pnpm is allowed to build', () => {
    const workspace = mapping(
      yaml.parse(readRepoFile('pnpm-workspace.yaml')),
      'pnpm-workspace.yaml',
    );
    const built = strings(workspace.onlyBuiltDependencies ?? [], 'onlyBuiltDependencies');
    expect(built).toContain('better-sqlite3');
    const aptInstall = instructionsOf('RUN', 0).find((i) => /apt-get install/.test(i.args));
    for (const tool of ['python3', 'make', 'g++']) {
      expect(aptInstall?.args.split(' '), `build stage installs ${tool}`).toContain(tool);
    }
  });

  it('runs the sidecar package deployed with production dependencies, at its bin path', () => {
    const deploy = instructionsOf('RUN')
      .map((i) => /\bpnpm --filter (\S+) deploy (.*)$/.exec(i.args))
      .find((match) => match !== null);
    expect(deploy?.[1]).toBe(text(sidecarManifest.name, 'name'));
    const deployArgs = (deploy?.[2] ?? '').split(' ');
    expect(deployArgs).toContain('--prod');
    const deployedTo = deployArgs.at(-1);

    const copy = instructionsOf('COPY', runtimeStage).find((i) => i.args.startsWith('--from='));
    const [, from, to] = /^--from=\S+ (\S+) (\S+)$/.exec(copy?.args ?? '') ?? [];
    expect(from).toBe(deployedTo);

    const entrypoint = strings(
      JSON.parse(onlyInstruction('ENTRYPOINT', runtimeStage).args),
      'ENTRYPOINT',
    );
    expect(entrypoint[0]).toBe('node');
    const script = entrypoint[1] ?? '';
    expect(script.startsWith(`${to}/`), `${script} lies in ${to}`).toBe(true);
    const inPackage = posix.relative(to ?? '', script);
    // The deployed tree is the package's "files"; the entry point must be one of them and be
    // the command package.json declares.
    expect(existsSync(`${root}/packages/sidecar/${inPackage}`)).toBe(true);
    expect(strings(sidecarManifest.files, 'files')).toContain(inPackage.split('/')[0]);
    const bin = mapping(sidecarManifest.bin, 'bin');
    expect(posix.normalize(text(bin.leasehold, 'bin.leasehold'))).toBe(inPackage);
  });

  it('bundles the deployed copy before the runtime stage takes it (scripts/bundle.mjs)', () => {
    const deployAt = dockerfile.findIndex(
      (i) => i.keyword === 'RUN' && /\bpnpm --filter \S+ deploy\b/.test(i.args),
    );
    const deployedTo = dockerfile[deployAt]?.args.split(' ').at(-1);
    const bundleAt = dockerfile.findIndex(
      (i) => i.keyword === 'RUN' && i.args === `node scripts/bundle.mjs ${deployedTo}`,
    );
    expect(bundleAt, `RUN node scripts/bundle.mjs ${deployedTo}`).toBeGreaterThan(deployAt);
    expect(dockerfile[bundleAt]?.stage).toBe(0);
    const copied = dockerfile
      .slice(0, bundleAt)
      .filter((i) => i.keyword === 'COPY')
      .map((i) => i.args);
    expect(copied).toContain('scripts/bundle.mjs scripts/');
    // The bin runs the bundle where it finds one: the image's entry point stays the bin.
    expect(readRepoFile('packages/sidecar/bin/leasehold.js')).toContain('../dist/bundle/cli.mjs');
  });

  it('deploys production dependencies only: no test framework in the image', () => {
    // The image's own deploy step, run here into a scratch directory (it reads the
    // workspace's install; no network). vitest came in once through core's optional peer.
    const deploy = instructionsOf('RUN')
      .map((i) => /\bpnpm (--filter \S+ deploy .*) \S+$/.exec(i.args)?.[1])
      .find((args) => args !== undefined);
    expect(deploy).toBeDefined();
    const out = mkdtempSync(join(tmpdir(), 'leasehold-deploy-'));
    try {
      execFileSync('pnpm', [...(deploy ?? '').split(' '), join(out, 'app')], {
        cwd: root,
        stdio: 'ignore',
        timeout: 120_000,
      });
      const installed = readdirSync(join(out, 'app', 'node_modules', '.pnpm'));
      expect(installed.some((name) => name.startsWith('better-sqlite3@'))).toBe(true);
      for (const tool of ['vitest@', 'vite@', '@vitest+', 'fast-check@', 'typescript@']) {
        expect(installed.filter((name) => name.startsWith(tool))).toEqual([]);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);

  it('ships every file the sidecar reads beside its own modules', () => {
    // pnpm deploy copies only the package's "files"; a module that reads
    // new URL('../x', import.meta.url) from dist/ finds nothing in the image otherwise.
    const shipped = strings(sidecarManifest.files, 'files');
    const sources = readdirSync(`${root}/packages/sidecar/src`, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.ts'));
    for (const source of sources) {
      const code = readRepoFile(`packages/sidecar/src/${source}`);
      for (const [, relative] of code.matchAll(
        /new URL\(\s*'([^']+)',\s*import\.meta\.url\s*\)/g,
      )) {
        // The built module sits at the same depth under dist/ as its source under src/.
        const read = posix.join('dist', posix.dirname(source), relative ?? '');
        expect(shipped, `${read} (read by src/${source}) is in "files"`).toContain(
          read.split('/')[0],
        );
      }
    }
  });

  it('runs as the non-root node user, with the SQLite default directory writable', () => {
    const users = instructionsOf('USER', runtimeStage).map((i) => i.args);
    expect(users.at(-1)).toBe('node');
    const workdir = onlyInstruction('WORKDIR', runtimeStage).args;
    // DEFAULT_STORE is relative to the working directory: sqlite://.leasehold/leasehold.db
    const defaultStoreDir = posix.join(
      workdir,
      posix.dirname(DEFAULT_STORE.replace(/^sqlite:\/\//, '')),
    );
    const chown = inRuntime.find(
      (i) => i.keyword === 'RUN' && i.args.includes(`chown node:node ${defaultStoreDir}`),
    );
    expect(chown, `RUN … chown node:node ${defaultStoreDir}`).toBeDefined();
  });

  it('exposes the default port and health-checks a route the server answers before the store', async () => {
    expect(onlyInstruction('EXPOSE', runtimeStage).args).toBe(String(defaults.port));
    const healthcheck = onlyInstruction('HEALTHCHECK', runtimeStage).args;
    const command = strings(JSON.parse(healthcheck.replace(/^.*?\bCMD\s+/, '')), 'HEALTHCHECK CMD');
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    const probe = command[2] ?? '';
    expect(probe).toContain(`'${defaults.port}'`);
    // Run the probe itself: healthy when the sidecar's /healthz answers, unhealthy when
    // nothing listens or the answer is an error.
    expect(await exitCodeOf(probe, { LEASEHOLD_PORT: new URL(serverUrl).port })).toBe(0);
    expect(await exitCodeOf(probe, { LEASEHOLD_PORT: '1' })).toBe(1);
    const failing = createServer((_request, response) => response.writeHead(503).end());
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    try {
      const { port } = failing.address() as AddressInfo;
      expect(await exitCodeOf(probe, { LEASEHOLD_PORT: String(port) })).toBe(1);
    } finally {
      failing.close();
    }
    const path = /127\.0\.0\.1:.*?(\/[a-z/-]+)/.exec(probe)?.[1];
    expect(path).toBe('/healthz');
  });

  it('stops with SIGTERM, which the sidecar turns into a release', () => {
    expect(onlyInstruction('STOPSIGNAL', runtimeStage).args).toBe('SIGTERM');
  });

  it('.dockerignore keeps host builds out of the context', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // A host *.tsbuildinfo without its dist/ would make `tsc -b` skip emitting in the image.
    for (const pattern of [
      '**/node_modules',
      '**/dist',
      '**/*.tsbuildinfo',
      '.git',
      '.leasehold',
    ]) {
      expect(ignored).toContain(pattern);
    }
  });
});

describe('docker-compose.yml', () => {
  it.each(Object.entries(STORES))(
    'runs %s on its standard port, with a healthcheck',
    (_backend, expected) => {
      const store = service(expected.service);
      expect(text(store.image, `${expected.service}.image`)).toMatch(expected.image);
      expect(strings(store.expose, `${expected.service}.expose`)).toContain(String(expected.port));
      const test = strings(mapping(store.healthcheck, 'healthcheck').test, 'healthcheck.test');
      expect(test[0]).toBe('CMD');
      expect(posix.basename(test[1] ?? '')).toBe(expected.probe);
    },
  );

  it('has etcd listen on every interface and advertise the name the sidecars use', () => {
    const command = strings(service('etcd').command, 'etcd.command');
    expect(command).toContain(`--listen-client-urls=http://0.0.0.0:${STORES.etcd.port}`);
    expect(command).toContain(`--advertise-client-urls=http://etcd:${STORES.etcd.port}`);
  });

  it('runs three sidecars, each in the network namespace of an app that exists', () => {
    expect(sidecarNames).toEqual(['leasehold1', 'leasehold2', 'leasehold3']);
    for (const name of sidecarNames) {
      const app = `app${name.replace('leasehold', '')}`;
      expect(service(name).network_mode).toBe(`service:${app}`);
      expect(text(service(app).image, `${app}.image`)).toMatch(/^node:24[.-]/);
    }
  });

  it('gives every sidecar a valid configuration: unique id, one election, loopback', () => {
    const configs = sidecarNames.map((name) => loadConfig({ flags: {}, env: sidecarEnv(name) }));
    expect(new Set(configs.map((c) => c.id)).size).toBe(sidecarNames.length);
    expect(configs.map((c) => c.id)).toEqual(sidecarNames);
    expect(new Set(configs.map((c) => c.election)).size).toBe(1);
    for (const config of configs) {
      // The app shares the namespace, so loopback is enough and nothing else can ask.
      expect(config.host).toBe(defaults.host);
      expect(config.storeIsDefault).toBe(false);
    }
  });

  it('has each app ask its sidecar at 127.0.0.1 on the port and route the sidecar serves', async () => {
    for (const name of sidecarNames) {
      const app = `app${name.replace('leasehold', '')}`;
      const config = loadConfig({ flags: {}, env: sidecarEnv(name) });
      const command = strings(service(app).command, `${app}.command`).join(' ');
      const asked = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/-]+)/.exec(command);
      expect(asked?.[1]).toBe(String(config.port));
      const answer = await server.request(asked?.[2] ?? '/');
      // 503 is "following": the route exists, this probe's elector just does not lead.
      expect([200, 503]).toContain(answer.statusCode);
    }
  });

  it('points every store URL it names at a compose service on that store’s standard port', () => {
    const urls = composeStoreUrls();
    const backends = new Set<Backend>();
    for (const url of urls) {
      const config = loadConfig({ flags: {}, env: { LEASEHOLD_STORE: url } });
      expect(config.store).toBe(url);
      const parsed = new URL(url);
      const backend = BACKEND_OF_SCHEME[parsed.protocol];
      expect(backend, `${url}: a scheme compose runs a store for`).toBeDefined();
      if (backend === undefined) continue;
      backends.add(backend);
      expect(parsed.hostname, url).toBe(STORES[backend].service);
      expect(Number(parsed.port || STORES[backend].port), url).toBe(STORES[backend].port);
      if (backend === 'postgres') {
        const environment = mapping(service('postgres').environment, 'postgres.environment');
        expect(parsed.pathname).toBe(`/${text(environment.POSTGRES_DB, 'POSTGRES_DB')}`);
        if (environment.POSTGRES_HOST_AUTH_METHOD !== 'trust') {
          expect(decodeURIComponent(parsed.password)).toBe(environment.POSTGRES_PASSWORD);
        }
      }
    }
    // The default and the documented switches together reach every store compose starts.
    expect([...backends].sort()).toEqual(Object.keys(STORES).sort());
  });

  it('starts every sidecar after every store is healthy, so switching needs no other edit', () => {
    for (const name of sidecarNames) {
      const dependsOn = mapping(service(name).depends_on, `${name}.depends_on`);
      for (const { service: store } of Object.values(STORES)) {
        expect(mapping(dependsOn[store], `${name}.depends_on.${store}`).condition).toBe(
          'service_healthy',
        );
      }
    }
  });

  it('lets each sidecar finish its shutdown grace before compose kills it', () => {
    for (const name of sidecarNames) {
      const config = loadConfig({ flags: {}, env: sidecarEnv(name) });
      const stopGrace = parseDuration(
        text(service(name).stop_grace_period, `${name}.stop_grace_period`),
      );
      if (stopGrace instanceof Error) throw stopGrace;
      expect(stopGrace).toBeGreaterThan(config.shutdownGraceMs);
    }
  });
});

describe('LEASEHOLD_* names in the deploy files', () => {
  const known = new Set(FIELDS.map((field) => field.env));

  it.each([
    ['Dockerfile', dockerfileSource],
    ['docker-compose.yml', composeSource],
  ])('%s uses only names the configuration schema reads', (_file, source) => {
    const used = [...source.matchAll(/\bLEASEHOLD_[A-Z0-9_]+/g)].map((m) => m[0]);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !known.has(name))).toEqual([]);
  });
});
