#!/usr/bin/env node
// The `leasehold` command (packages/sidecar/src/cli.ts, built to dist/).
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';

// Most of a start-up is compiling JavaScript (etcd's gRPC stack, the store drivers, the
// sidecar). Node 22.1 and later keep what they compiled in an on-disk cache when asked, and
// the next start reads it instead of compiling again; Node 20 has no such cache. The cache
// is this user's: $XDG_CACHE_HOME/leasehold/compile-cache, else leasehold-compile-cache-<uid>
// in the OS temp dir, used only when this user owns it and no one else may write to it
// (V8 would load code from it). Never fatal: an unwritable directory means no cache.
// NODE_COMPILE_CACHE (Node's own setting) wins; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
function enableCompileCache() {
  if (typeof module.enableCompileCache !== 'function') return; // Node 20
  if (process.env.NODE_COMPILE_CACHE) return void module.enableCompileCache();
  const uid = process.getuid?.() ?? -1;
  const dir = process.env.XDG_CACHE_HOME
    ? join(process.env.XDG_CACHE_HOME, 'leasehold', 'compile-cache')
    : join(tmpdir(), `leasehold-compile-cache-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || (uid !== -1 && stat.uid !== uid) || (stat.mode & 0o022) !== 0) {
      return;
    }
    module.enableCompileCache(dir);
  } catch {
    // No cache: start as Node 20 does.
  }
}
enableCompileCache();

// Loading the sidecar's modules runs Node's module resolution (path and URL helpers) often
// enough for V8 to optimise it with TurboFan and Maglev (13 compilations on Node 20, 52 on
// Node 24, --trace-opt), code that hardly runs again once the sidecar listens. Each
// optimising compiler's own machine code is pages of the `node` binary, resident from its
// first use, and the compilations leave heap behind: an idle sidecar kept 5-8 MB more after
// a minute (Node 24: Redis 78-79 → 70-71 MB RSS, etcd 88 → 82; Node 20: Redis 59 → 53.5,
// etcd 72-74 → 66-67; bench/RESULTS.md, notes). So both stay off while the modules load
// (the interpreter and Sparkplug run them) and are on again once the sidecar listens: under
// load it optimises as before, and an idle sidecar once its renew path is hot (which brings
// the compilers' pages back; the heap part of the saving stays). V8 reads these flags at
// each tiering decision, so setting them at run time takes effect. A tiering flag given on
// the command line or in NODE_OPTIONS is left as given.
const TIERING_FLAG = /--(no[-_])?(opt|turbofan|maglev)\b|--max[-_]opt|--jitless|--lite[-_]mode/;
function pauseOptimisingCompilers() {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (TIERING_FLAG.test(given)) return () => {};
  // Maglev is on by default from V8 12 (Node 22) where it is built: x64 and arm64.
  const maglev =
    Number(process.versions.v8.split('.')[0]) >= 12 && ['x64', 'arm64'].includes(process.arch);
  setFlagsFromString('--no-turbofan');
  if (maglev) setFlagsFromString('--no-maglev');
  return () => {
    setFlagsFromString('--turbofan');
    if (maglev) setFlagsFromString('--maglev');
  };
}
const resumeOptimisingCompilers = pauseOptimisingCompilers();

// Start-up (loading modules, compiling route schemas) keeps most of what it allocates, and
// V8 answers that by doubling its young generation up to 16 MB, then keeps it for a minute
// or more after the sidecar has gone idle: 84 MB resident instead of 69 MB. Not letting it
// grow while starting, and restoring the default growth once the sidecar listens, keeps an
// idle sidecar small without changing how it behaves under load. V8 reads this flag each
// time it considers growing, so setting it at run time takes effect.
setFlagsFromString('--semi-space-growth-factor=1');
// After start-up, the young generation may grow again, but only up to YOUNG_CAP_BYTES (two
// 4 MB semi-spaces). A sidecar of many elections allocates all the time (1,000 elections:
// ~8 MB/s at idle, the renewals' promises, timers and store commands), so V8 grew it to its
// maximum and kept it there: 32 MB on Node 20, ~100 MB on Node 24 (the image's). Capped, a
// sidecar leading 1,000 elections on Redis took 126 MB resident instead of 211 on Node 24
// and 104 instead of 119-135 on Node 20, its CPU 6.6 % of a core against 4.2 (Node 24) and
// 4.9 against 3.9-6.1 (Node 20), single runs at load 1-5; GET /v1/leader flat out 28,351
// req/s, p99 5 ms, against 27,971, 4 ms (bench/RESULTS.md notes, docs/design.md §4). An idle
// sidecar of one election stays far below it. --max-semi-space-size is read only when the
// heap is made, so the cap is kept at run time: after each collection, growth (by the
// factor, 2) is allowed only while one more doubling stays within the cap.
const YOUNG_CAP_BYTES = 8 * 1024 * 1024;
function capYoungGeneration() {
  let factor = 0;
  const check = () => {
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    const next = young !== undefined && 2 * young.space_size > YOUNG_CAP_BYTES ? 1 : 2;
    if (next === factor) return;
    factor = next;
    setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  };
  check();
  new PerformanceObserver(check).observe({ entryTypes: ['gc'] });
}
// The bundle (scripts/bundle.mjs) where a release or the image put one, else the tsc build.
const BUNDLE = new URL('../dist/bundle/cli.mjs', import.meta.url);
const { main } = await import(existsSync(BUNDLE) ? BUNDLE.href : '../dist/cli.js');
await main(process.argv);
resumeOptimisingCompilers();
capYoungGeneration();
// Node writes the cache at exit; a sidecar runs for weeks and may be killed, so write what
// start-up compiled now (Node 22.10 and later).
module.flushCompileCache?.();

// What start-up left behind stays in old-space pages V8 does not give back while the
// sidecar idles: on Node 24 an idle sidecar kept about 5 MB more (Redis, 81.7 MB resident
// after 40 s, 76.7 MB with one full collection 15 s in; Node 20 about 1 MB). One full
// collection once it has settled returns them; after that V8 collects as it decides. The
// flag exposes `gc` to contexts made from then on; unref'd, it keeps no command alive.
const SETTLED_MS = 10_000;
setTimeout(() => {
  setFlagsFromString('--expose-gc');
  runInNewContext('gc')();
}, SETTLED_MS).unref();
