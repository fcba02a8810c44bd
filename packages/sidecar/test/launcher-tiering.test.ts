import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until } from '@leasehold/testkit';
import { BIN } from './helpers/sidecar-processes.js';

// The launcher (bin/leasehold.js) keeps V8's optimising compilers off while the sidecar's
// modules load, so that an idle sidecar does not keep their code and leftovers resident,
// and turns them on once it listens. Seen with V8's --trace-opt, which prints a line for
// each optimising compilation on stdout, between the sidecar's JSON log lines.
const scratch = mkdtempSync(join(tmpdir(), 'leasehold-tiering-test-'));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface TracedSidecar {
  readonly url: string;
  /** Functions V8 optimised before the sidecar logged its address. */
  readonly beforeListening: string[];
  /** Functions optimised since. */
  readonly afterListening: string[];
}

/** A sidecar on its own SQLite file, started with `nodeFlags` and --trace-opt. */
async function startTraced(name: string, nodeFlags: readonly string[]): Promise<TracedSidecar> {
  const store = `sqlite://${join(scratch, `${name}.db`)}`;
  const args = [...nodeFlags, '--trace-opt', BIN, '--store', store, '--election', name];
  const child = spawn(process.execPath, [...args, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const beforeListening: string[] = [];
  const afterListening: string[] = [];
  let url: string | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{')) url ??= (JSON.parse(line) as { url?: string }).url;
    else if (line.includes('compiling method')) {
      (url === undefined ? beforeListening : afterListening).push(line);
    }
  });
  return {
    url: await until(`${name} listening`, 15_000, () => url),
    beforeListening,
    afterListening,
  };
}

/** The function a --trace-opt line names. */
const compiledFunction = (line: string): string =>
  /<JSFunction (.*?) \(sfi/.exec(line)?.[1] ?? line;

/**
 * What Node itself optimises before any module of ours runs (Node 24: a path helper while
 * it loads the entry module): the launcher cannot turn the compilers off before that.
 */
function optimisedByNodeAlone(): Set<string> {
  const entry = join(scratch, 'empty.mjs');
  writeFileSync(entry, "import 'node:fs';\n");
  const traced = spawnSync(process.execPath, ['--trace-opt', entry], { encoding: 'utf8' });
  const lines = traced.stdout.split('\n').filter((line) => line.includes('compiling method'));
  return new Set(lines.map(compiledFunction));
}

/** `count` requests one after another to the route every app asks. */
async function askLeader(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await (await fetch(`${url}/v1/leader`)).text();
}

describe('the launcher and V8’s optimising compilers', () => {
  // Each case sends thousands of requests one at a time: 20 s is too short on a loaded host.
  it(
    'optimises nothing while the sidecar starts, and its request path once it listens',
    { timeout: 60_000 },
    async () => {
      const sidecar = await startTraced('tiering-default', []);
      const nodeAlone = optimisedByNodeAlone();
      const ours = sidecar.beforeListening.filter((line) => !nodeAlone.has(compiledFunction(line)));
      expect(ours).toEqual([]);
      await until('a function optimised under requests', 30_000, async () => {
        await askLeader(sidecar.url, 200);
        return sidecar.afterListening.length > 0;
      });
    },
  );

  it('leaves the compilers as the command line set them', { timeout: 60_000 }, async () => {
    const sidecar = await startTraced('tiering-given', ['--no-turbofan', '--no-maglev']);
    // Far more requests than the case above needs before its first optimisation.
    await askLeader(sidecar.url, 4_000);
    expect(sidecar.beforeListening).toEqual([]);
    expect(sidecar.afterListening).toEqual([]);
  });
});
