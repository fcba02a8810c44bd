// The sidecar as one bundled entry point, for the container image and the self-contained
// release (bench/why.mjs, "Bundling": start-up is mostly loading modules, and a bundle loads
// a few files instead of hundreds). Written into a deployed copy of @leasehold/sidecar (a
// `pnpm deploy` directory), never into the workspace, where it would go stale:
//
//   node scripts/bundle.mjs DEPLOYED_DIR
//
// writes DEPLOYED_DIR/dist/bundle/: cli.mjs (what dist/cli.js exports), the chunks the
// sidecar loads lazily (each store's adapter and driver, the Fastify routes), and etcd3's
// .proto files, which etcd3 reads at run time from beside its own module. bin/leasehold.js
// runs it when it is there. Bundled modules sit two directories below the package, as
// dist/<dir>/*.js do, so what they read by new URL('../../…', import.meta.url) (static/,
// src/run/watchdog.bash) resolves the same. better-sqlite3 stays outside (a native addon,
// loaded from node_modules); so does pino-pretty, which pino starts in a worker by name.
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { rolldown } from 'rolldown';

const ROOT = new URL('..', import.meta.url).pathname;
const SIDECAR = join(ROOT, 'packages/sidecar');
const fromSidecar = createRequire(join(SIDECAR, 'package.json'));
const fromAdapters = createRequire(join(ROOT, 'packages/adapters/package.json'));

/** Left to node_modules at run time. */
export const EXTERNAL = ['better-sqlite3', 'pino-pretty'];

// CommonJS dependencies bundled into ES modules still ask for these.
const BANNER = [
  "import { createRequire as __lhCreateRequire } from 'node:module';",
  "import { fileURLToPath as __lhFileURLToPath } from 'node:url';",
  'const require = __lhCreateRequire(import.meta.url);',
  'const __filename = __lhFileURLToPath(import.meta.url);',
  "const __dirname = __lhFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

// pino starts its transports (pino-pretty at a terminal) in a worker from files beside its
// own modules, which a bundle does not have: the bundler hook pino and thread-stream read
// names the installed ones instead (node_modules stays beside the bundle).
const PINO_WORKERS = `
{
  const fromPino = __lhCreateRequire(require.resolve('pino'));
  globalThis.__bundlerPathsOverrides = {
    'pino-worker': fromPino.resolve('./lib/worker.js'),
    'pino/file': fromPino.resolve('./file.js'),
    'thread-stream-worker': fromPino.resolve('thread-stream/lib/worker.js'),
    ...globalThis.__bundlerPathsOverrides,
  };
}`;

/** Files of the build the bundle replaces by what they compute at build time. */
function buildTimeValues() {
  const { version } = fromSidecar('./package.json');
  return {
    name: 'leasehold-build-time-values',
    transform(code, id) {
      // version.ts reads ../package.json from dist/, which the bundle's directory is not.
      if (id === join(SIDECAR, 'dist', 'version.js')) {
        return `export const version = ${JSON.stringify(version)};\n`;
      }
      return null;
    },
  };
}

export async function bundleSidecar(target) {
  const out = join(target, 'dist', 'bundle');
  if (realpathSync(target) === realpathSync(SIDECAR)) {
    throw new Error('bundle into a deployed copy (pnpm deploy), not the workspace package');
  }
  if (!existsSync(join(SIDECAR, 'dist', 'cli.js'))) throw new Error('build first (tsc -b)');
  rmSync(out, { recursive: true, force: true });
  const build = await rolldown({
    input: { cli: join(SIDECAR, 'dist', 'cli.js') },
    platform: 'node',
    external: (id) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
    logLevel: 'warn',
    plugins: [buildTimeValues()],
  });
  try {
    await build.write({
      dir: out,
      format: 'esm',
      entryFileNames: '[name].mjs',
      chunkFileNames: '[name]-[hash].mjs',
      banner: BANNER,
      intro: (chunk) => (chunk.isEntry ? PINO_WORKERS : ''),
    });
  } finally {
    await build.close();
  }
  // etcd3 loads `${__dirname}/../proto/rpc.proto`: __dirname is the bundle's directory.
  const etcd3 = dirname(fromAdapters.resolve('etcd3/package.json'));
  cpSync(join(etcd3, 'proto'), join(target, 'dist', 'proto'), { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  return relative(target, out);
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node scripts/bundle.mjs DEPLOYED_DIR');
    process.exit(2);
  }
  mkdirSync(target, { recursive: true });
  console.error(`bundle: wrote ${join(target, await bundleSidecar(target))}`);
}
