import { SUPPORTED_SCHEMES, urlSecrets } from '@leasehold/adapters';
import { FIELDS, SECRET_FILE_OPTIONS, loadConfig, type SidecarConfig } from '@leasehold/sidecar';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSidecar, type ProbeSidecar } from './support/probe-sidecar.js';
import {
  list,
  mapping,
  readRepoFile,
  root,
  strings,
  text,
  yamlDocuments,
  type Mapping,
} from './support/repo-files.js';
import { explain, requireTool, runTool } from './support/tools.js';

// Every overlay of examples/kubernetes is rendered by the real `kubectl kustomize`, each
// object is validated against the Kubernetes API schemas (kubernetes-models, generated from
// Kubernetes' OpenAPI document), and the sidecar in it is held to the code: its environment
// must load as a valid configuration, its ports and probes must be routes the server has.
// The schemas check types, required fields and formats, not unknown field names (the API
// schemas allow those), so the fields that matter are read here by name.

const EXAMPLES = 'examples/kubernetes';
const overlays = readdirSync(`${root}/${EXAMPLES}/overlays`).sort();
const knownEnv = new Set([
  ...FIELDS.map((field) => field.env),
  ...SECRET_FILE_OPTIONS.map((option) => option.env),
]);
/** The variables of the secret settings themselves (LEASEHOLD_STORE, …), not their _FILE. */
const secretSettingEnv = SECRET_FILE_OPTIONS.map((option) => option.env.replace(/_FILE$/, ''));
/** Where the test writes the Secrets the pods mount, as the kubelet would. */
const mountRoot = mkdtempSync(join(tmpdir(), 'leasehold-k8s-'));

/** Values the API server would fill in for the downward API. */
const POD_FIELDS: Readonly<Record<string, string>> = {
  'metadata.name': 'leasehold-example-6d4cf56db6-x2x4q',
  'metadata.namespace': 'default',
  'status.podIP': '10.1.2.3',
};

interface Rendered {
  readonly source: string;
  readonly objects: Mapping[];
}

function render(overlay: string): Rendered {
  const result = runTool('kubectl', ['kustomize', `${EXAMPLES}/overlays/${overlay}`], {
    cwd: root,
  });
  expect(result.status, explain(`kubectl kustomize overlays/${overlay}`, result)).toBe(0);
  // Deprecation warnings land on stderr: an example must not teach deprecated fields.
  expect(result.stderr).toBe('');
  return { source: result.stdout, objects: yamlDocuments(result.stdout, overlay) };
}

function only(objects: Mapping[], kind: string): Mapping {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.map((o) => mapping(o.metadata, 'metadata').name)).toHaveLength(1);
  return found[0] as Mapping;
}

function named(objects: Mapping[], kind: string, name: string): Mapping | undefined {
  return objects.find((o) => o.kind === kind && mapping(o.metadata, 'metadata').name === name);
}

/** Validate one object with the kubernetes-models class for its apiVersion and kind. */
async function schemaErrors(object: Mapping): Promise<string | null> {
  const apiVersion = text(object.apiVersion, 'apiVersion');
  const kind = text(object.kind, 'kind');
  let model: unknown;
  try {
    model = ((await import(`kubernetes-models/${apiVersion}/${kind}`)) as Mapping)[kind];
  } catch {
    return `no Kubernetes schema for ${apiVersion} ${kind}`;
  }
  const Model = model as new (data: unknown) => { validate(): void };
  try {
    new Model(asDecoded(object)).validate();
    return null;
  } catch (error) {
    return `${kind} ${String(mapping(object.metadata, 'metadata').name)}: ${(error as Error).message}`;
  }
}

/**
 * kustomize folds long base64 Secret values over several lines; the API server's base64
 * decoder skips line breaks, the schema's "byte" format does not.
 */
function asDecoded(object: Mapping): Mapping {
  if (object.kind !== 'Secret' || object.data === undefined) return object;
  const data = Object.entries(mapping(object.data, 'data')).map(([key, value]) => [
    key,
    text(value, `data.${key}`).replace(/\s+/g, ''),
  ]);
  return { ...object, data: Object.fromEntries(data) };
}

// ---- the pod, as the kubelet would run it ----

interface Pod {
  readonly deployment: Mapping;
  readonly spec: Mapping;
  readonly sidecar: Mapping;
  readonly app: Mapping[];
}

/** The image `.github/workflows/release.yml` pushes on a version tag, by its name. */
const IMAGE = text(
  mapping(JSON.parse(readRepoFile('release.config.json')), 'release.config.json').image,
  'image',
);

function podOf(objects: Mapping[]): Pod {
  const deployment = only(objects, 'Deployment');
  const template = mapping(mapping(deployment.spec, 'spec').template, 'spec.template');
  const spec = mapping(template.spec, 'spec.template.spec');
  const initContainers = list(spec.initContainers ?? [], 'initContainers').map((c, i) =>
    mapping(c, `initContainers[${i}]`),
  );
  const sidecars = initContainers.filter((c) => text(c.image, 'image').startsWith(`${IMAGE}:`));
  expect(sidecars, 'one leasehold init container').toHaveLength(1);
  const app = list(spec.containers, 'containers').map((c, i) => mapping(c, `containers[${i}]`));
  return { deployment, spec, sidecar: sidecars[0] as Mapping, app };
}

interface EnvVar {
  readonly value: string;
  /** `secret` when the value comes from a Secret, else `literal`, `field` or `configmap`. */
  readonly from: 'literal' | 'field' | 'secret' | 'configmap';
}

/** The container's environment with references resolved from the rendered objects. */
function environmentOf(container: Mapping, objects: Mapping[]): Map<string, EnvVar> {
  const env = new Map<string, EnvVar>();
  const dataOf = (kind: 'Secret' | 'ConfigMap', ref: Mapping): string => {
    const name = text(ref.name, `${kind} name`);
    const key = text(ref.key, `${kind} key`);
    const object = named(objects, kind, name);
    if (object === undefined) throw new Error(`${kind} ${name} is not in the rendered overlay`);
    const raw = text(mapping(object.data, `${name}.data`)[key], `${name}.data.${key}`);
    return kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  };
  for (const [index, entry] of list(container.env ?? [], 'env').entries()) {
    const item = mapping(entry, `env[${index}]`);
    const name = text(item.name, `env[${index}].name`);
    if (item.value !== undefined) {
      // $(NAME) refers to a variable defined earlier in the list, as the kubelet expands it.
      const value = text(item.value, name).replace(
        /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
        (reference, ref: string) => env.get(ref)?.value ?? reference,
      );
      env.set(name, { value, from: 'literal' });
      continue;
    }
    const valueFrom = mapping(item.valueFrom, `${name}.valueFrom`);
    if (valueFrom.fieldRef !== undefined) {
      const path = text(mapping(valueFrom.fieldRef, 'fieldRef').fieldPath, 'fieldPath');
      env.set(name, { value: POD_FIELDS[path] ?? '', from: 'field' });
    } else if (valueFrom.secretKeyRef !== undefined) {
      env.set(name, {
        value: dataOf('Secret', mapping(valueFrom.secretKeyRef, 'ref')),
        from: 'secret',
      });
    } else {
      env.set(name, {
        value: dataOf('ConfigMap', mapping(valueFrom.configMapKeyRef, 'ref')),
        from: 'configmap',
      });
    }
  }
  return env;
}

interface SecretMount {
  /** Where the container sees the volume. */
  readonly mountPath: string;
  /** Where this test wrote the Secret's files, for a volume whose Secret the overlay renders. */
  readonly written?: string;
}

/**
 * The sidecar's read-only mounts of Secret volumes. The Secrets the overlay renders are
 * written to a directory here (each key, or the volume's `items`, as a file), so that the
 * *_FILE settings that name them can be read as the kubelet would let the sidecar read them.
 */
function secretMountsOf(pod: Pod, objects: Mapping[], overlay: string): SecretMount[] {
  const volumes = list(pod.spec.volumes ?? [], 'volumes').map((v) => mapping(v, 'volume'));
  return list(pod.sidecar.volumeMounts ?? [], 'volumeMounts')
    .map((m) => mapping(m, 'volumeMount'))
    .flatMap((mount) => {
      const volume = volumes.find((v) => v.name === mount.name);
      if (volume?.secret === undefined || mount.readOnly !== true) return [];
      const mountPath = text(mount.mountPath, 'mountPath');
      const source = mapping(volume.secret, 'volume.secret');
      const secret = named(objects, 'Secret', text(source.secretName, 'secretName'));
      if (secret === undefined) return [{ mountPath }];
      const data = mapping(secret.data, 'Secret data');
      const items =
        source.items === undefined
          ? Object.keys(data).map((key) => ({ key, path: key }))
          : list(source.items, 'items').map((item) => {
              const { key, path } = mapping(item, 'item');
              return { key: text(key, 'item.key'), path: text(path, 'item.path') };
            });
      const written = join(mountRoot, overlay, text(mount.name, 'mount name'));
      mkdirSync(written, { recursive: true });
      for (const { key, path } of items) {
        const value = text(data[key], `Secret data ${key}`).replace(/\s+/g, '');
        writeFileSync(join(written, path), Buffer.from(value, 'base64'), { mode: 0o600 });
      }
      return [{ mountPath, written }];
    });
}

/** The configuration the sidecar loads, its *_FILE settings read from the mounted Secrets. */
function configOf(env: Map<string, EnvVar>, mounts: readonly SecretMount[]): SidecarConfig {
  const fileEnv = new Set(SECRET_FILE_OPTIONS.map((option) => option.env));
  const asMounted = (name: string, value: string): string => {
    if (!fileEnv.has(name)) return value;
    const mount = mounts.find((m) => value.startsWith(`${m.mountPath}/`));
    if (mount?.written === undefined) return value;
    return join(mount.written, value.slice(mount.mountPath.length + 1));
  };
  return loadConfig({
    flags: {},
    env: Object.fromEntries([...env].map(([name, { value }]) => [name, asMounted(name, value)])),
  });
}

/** A probe's or annotation's port: a number, or the name of one of the container's ports. */
function portNumber(container: Mapping, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = list(container.ports ?? [], 'ports')
    .map((p) => mapping(p, 'port'))
    .find((p) => p.name === port);
  if (named === undefined) throw new Error(`no container port named ${String(port)}`);
  return Number(named.containerPort);
}

/** Kubernetes resource quantities: `500m` CPU, `96Mi` / `200M` memory, plain numbers. */
function quantity(value: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(value));
  if (match?.[1] === undefined) throw new Error(`not a quantity: ${String(value)}`);
  const factor = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
  }[match[2] ?? ''];
  return Number(match[1]) * (factor ?? Number.NaN);
}

/** The idle footprint the README reports (bench/footprint.mjs): MiB resident, % of a core. */
function measuredFootprint(): { rssBytes: number; cpuCores: number } {
  const readme = readRepoFile('README.md').replace(/\s+/g, ' ');
  const rss = /settles at \d+-(\d+) MB resident/.exec(readme)?.[1];
  const cpu = /uses (\d+(?:\.\d+)?) % of a core/.exec(readme)?.[1];
  if (rss === undefined || cpu === undefined) throw new Error('README: no footprint figures');
  return { rssBytes: Number(rss) * 2 ** 20, cpuCores: Number(cpu) / 100 };
}

let kubectlChecked: Error | null = null;
let sidecar: ProbeSidecar;

beforeAll(async () => {
  try {
    requireTool('kubectl');
    // `resources: [../../base]` (a directory) and `patches:` need kustomize v4 or later
    // (kubectl 1.21+); Debian's kubernetes-client is 1.20.
    const version = runTool('kubectl', ['version', '--client', '-o', 'json']);
    const kustomize = /"kustomizeVersion":\s*"v(\d+)/.exec(version.stdout)?.[1];
    if (kustomize === undefined || Number(kustomize) < 4) {
      throw new Error(
        `kubectl's kustomize is too old (${kustomize ?? 'unknown'}); kubectl 1.21 or later is needed`,
      );
    }
  } catch (error) {
    kubectlChecked = error as Error;
  }
  sidecar = await probeSidecar();
});

afterAll(async () => {
  rmSync(mountRoot, { recursive: true, force: true });
  await sidecar.close();
});

describe('examples/kubernetes', () => {
  it('has kubectl with a current kustomize', () => {
    if (kubectlChecked !== null) throw kubectlChecked;
  });

  it('has an overlay for every store that runs beside the cluster', () => {
    // sqlite:// elects among processes on one host only: no overlay for it.
    const networked = SUPPORTED_SCHEMES.filter((scheme) => scheme !== 'sqlite');
    for (const scheme of networked) {
      expect(
        overlays.some((overlay) => scheme.startsWith(overlay)),
        `an overlay in ${EXAMPLES}/overlays for ${scheme}:// (copy overlays/redis, set its URL)`,
      ).toBe(true);
    }
  });

  it('mentions only LEASEHOLD_* names the configuration schema reads', () => {
    const files = readdirSync(`${root}/${EXAMPLES}`, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => posix.relative(root, `${entry.parentPath}/${entry.name}`));
    const used = files.flatMap((file) =>
      [...readRepoFile(file).matchAll(/\bLEASEHOLD_[A-Z0-9_]+/g)].map((m) => `${m[0]} (${file})`),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((entry) => !knownEnv.has(entry.split(' ')[0] ?? ''))).toEqual([]);
  });

  describe.each(overlays)('overlay %s', (overlay) => {
    let rendered: Rendered;
    let pod: Pod;
    let env: Map<string, EnvVar>;
    let mounts: SecretMount[];
    let config: SidecarConfig;

    beforeAll(() => {
      if (kubectlChecked !== null) throw kubectlChecked;
      rendered = render(overlay);
      pod = podOf(rendered.objects);
      env = environmentOf(pod.sidecar, rendered.objects);
      mounts = secretMountsOf(pod, rendered.objects, overlay);
      config = configOf(env, mounts);
    });

    it('renders objects that validate against the Kubernetes schemas', async () => {
      const kinds = rendered.objects.map((o) => text(o.kind, 'kind')).sort();
      expect(kinds).toEqual(['Deployment', 'PodDisruptionBudget', 'Secret']);
      const errors = await Promise.all(rendered.objects.map(schemaErrors));
      expect(errors.filter((e) => e !== null)).toEqual([]);
    });

    it('gives the sidecar a valid configuration for this store, the URL from a Secret file', () => {
      for (const name of env.keys()) {
        if (name.startsWith('LEASEHOLD_')) expect(knownEnv, name).toContain(name);
      }
      expect(config.storeIsDefault).toBe(false);
      // Not `new URL`: etcd://h1:2379,h2:2379 is not a WHATWG URL.
      const scheme = /^([a-z]+):\/\//.exec(config.store)?.[1] ?? '';
      expect(scheme.startsWith(overlay), `${scheme}:// in overlay ${overlay}`).toBe(true);
      // The URL is read from the file a Secret volume mounts (the Docker and Kubernetes
      // secrets convention), not from a variable.
      expect(config.sources.store).toMatchObject({ kind: 'env', name: 'LEASEHOLD_STORE_FILE' });
      const storeFile = env.get('LEASEHOLD_STORE_FILE')?.value ?? '';
      expect(
        mounts.find((m) => storeFile.startsWith(`${m.mountPath}/`))?.written,
        `${storeFile} lies in a mounted volume of a Secret the overlay renders`,
      ).toBeDefined();
      if (overlay === 'zk') {
        // docs/kubernetes.md promises digest credentials: the znodes are then the user's only.
        expect(config.store).toMatch(/^zk:\/\/[^:@/]+:[^@/]+@/);
      }
      // Each replica is its own candidate: the id comes from the pod, not a constant.
      expect(env.get('LEASEHOLD_ID')?.value).toBe(POD_FIELDS['metadata.name']);
    });

    it('passes no store password, nor any other secret, as an environment variable', () => {
      // Every process in the container, `kubectl describe` and crash dumps see the
      // environment; the files of a Secret volume only the sidecar's user reads.
      for (const name of [...secretSettingEnv, 'PGPASSWORD']) {
        expect(env.has(name), `${name} in the sidecar's environment`).toBe(false);
      }
      const fromSecrets = [...env].filter(([, variable]) => variable.from === 'secret');
      expect(fromSecrets.map(([name]) => name)).toEqual([]);
      const secrets = urlSecrets(config.store);
      if (overlay === 'zk' || overlay === 'postgres') expect(secrets).not.toEqual([]);
      for (const container of [pod.sidecar, ...pod.app]) {
        const values = [...environmentOf(container, rendered.objects).values()].map(
          (variable) => variable.value,
        );
        for (const secret of secrets) {
          expect(
            values.filter((value) => value.includes(secret)),
            String(container.name),
          ).toEqual([]);
        }
      }
    });

    it('runs the sidecar as a native sidecar the kubelet probes on the port it serves', () => {
      expect(pod.sidecar.restartPolicy).toBe('Always');
      // The kubelet probes the pod's IP: a loopback-only sidecar would never turn ready.
      expect(['127.0.0.1', 'localhost', '::1']).not.toContain(config.host);
      const probes = {
        startupProbe: '/healthz',
        livenessProbe: '/healthz',
        readinessProbe: '/readyz',
      };
      for (const [probe, path] of Object.entries(probes)) {
        const httpGet = mapping(mapping(pod.sidecar[probe], probe).httpGet, `${probe}.httpGet`);
        expect(httpGet.path, probe).toBe(path);
        expect(sidecar.servesGet(text(httpGet.path, probe)), `${path} is a route`).toBe(true);
        expect(portNumber(pod.sidecar, httpGet.port), `${probe} port`).toBe(config.port);
      }
    });

    it('has Prometheus scrape the port and path the sidecar serves metrics on', () => {
      const template = mapping(mapping(pod.deployment.spec, 'spec').template, 'template');
      const annotations = mapping(mapping(template.metadata, 'metadata').annotations, 'ann.');
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(Number(annotations['prometheus.io/port'])).toBe(config.port);
      const path = text(annotations['prometheus.io/path'], 'prometheus.io/path');
      expect(sidecar.servesGet(path), `${path} is a route`).toBe(true);
    });

    it('has the app ask its sidecar on loopback, at the port and a route it serves', () => {
      const command = pod.app.flatMap((c) => strings(c.command ?? [], 'command')).join(' ');
      const asked = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/-]+)/.exec(command);
      expect(Number(asked?.[1])).toBe(config.port);
      expect(sidecar.servesGet(asked?.[2] ?? '')).toBe(true);
    });

    it('lets the sidecar finish its shutdown grace before the pod is killed', () => {
      const grace = Number(pod.spec.terminationGracePeriodSeconds);
      expect(grace * 1000).toBeGreaterThan(config.shutdownGraceMs);
    });

    it('runs every container as non-root on a read-only root file system', () => {
      const podSecurity = mapping(pod.spec.securityContext ?? {}, 'securityContext');
      for (const container of [pod.sidecar, ...pod.app]) {
        const security = { ...podSecurity, ...mapping(container.securityContext, 'ctx') };
        const name = String(container.name);
        expect(security.runAsNonRoot, name).toBe(true);
        expect(Number(security.runAsUser), name).toBeGreaterThan(0);
        expect(security.readOnlyRootFilesystem, name).toBe(true);
        expect(security.allowPrivilegeEscalation, name).toBe(false);
        expect(mapping(security.capabilities, 'capabilities').drop, name).toEqual(['ALL']);
      }
    });

    it('sizes the sidecar’s requests and limits from its measured footprint', () => {
      const measured = measuredFootprint();
      const resources = mapping(pod.sidecar.resources, 'resources');
      const requests = mapping(resources.requests, 'requests');
      const limits = mapping(resources.limits, 'limits');
      expect(quantity(requests.memory)).toBeGreaterThan(measured.rssBytes * 1.2);
      expect(quantity(limits.memory)).toBeGreaterThanOrEqual(quantity(requests.memory) * 1.5);
      expect(quantity(requests.cpu)).toBeGreaterThan(measured.cpuCores * 2);
      expect(quantity(limits.cpu)).toBeGreaterThan(quantity(requests.cpu));
    });

    it('runs the image the release publishes for this version (release.config.json)', () => {
      const manifest = mapping(JSON.parse(readRepoFile('packages/sidecar/package.json')), 'pkg');
      expect(pod.sidecar.image).toBe(`${IMAGE}:${text(manifest.version, 'version')}`);
    });

    it('keeps candidates during rollouts and drains, and selects its own pods', () => {
      const spec = mapping(pod.deployment.spec, 'spec');
      const podLabels = mapping(
        mapping(mapping(spec.template, 'template').metadata, 'metadata').labels,
        'labels',
      );
      expect(Number(spec.replicas)).toBeGreaterThanOrEqual(3);
      const rolling = mapping(mapping(spec.strategy, 'strategy').rollingUpdate, 'rollingUpdate');
      expect(rolling.maxUnavailable).toBe(0);
      const pdb = mapping(only(rendered.objects, 'PodDisruptionBudget').spec, 'pdb.spec');
      expect(pdb.maxUnavailable).toBe(1);
      for (const selector of [spec.selector, pdb.selector]) {
        const matchLabels = mapping(mapping(selector, 'selector').matchLabels, 'matchLabels');
        expect(podLabels).toMatchObject(matchLabels);
      }
    });

    it('mounts every certificate and secret file it names from a Secret, read-only', () => {
      const files = [
        'LEASEHOLD_STORE_CA',
        'LEASEHOLD_STORE_CERT',
        'LEASEHOLD_STORE_KEY',
        ...SECRET_FILE_OPTIONS.map((option) => option.env),
      ]
        .map((name) => env.get(name)?.value)
        .filter((value) => value !== undefined);
      const mounts = list(pod.sidecar.volumeMounts ?? [], 'volumeMounts').map((m) =>
        mapping(m, 'volumeMount'),
      );
      const volumes = list(pod.spec.volumes ?? [], 'volumes').map((v) => mapping(v, 'volume'));
      for (const file of files) {
        const mount = mounts.find((m) => file.startsWith(`${text(m.mountPath, 'mountPath')}/`));
        expect(mount, `${file} lies in a mounted volume`).toBeDefined();
        expect(mount?.readOnly).toBe(true);
        const volume = volumes.find((v) => v.name === mount?.name);
        expect(volume?.secret, `${file} comes from a Secret`).toBeDefined();
      }
    });
  });
});
