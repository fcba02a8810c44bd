// The replicas of one shard group for bench/shards.mjs: real `leasehold` sidecars with
// `shards: [{name, count}]` in their YAML file, or ../candidates/etcd3-shards.mjs processes
// (the etcd3 package's Election per shard). Both log shard-elected / shard-deposed lines and
// answer GET /v1/shards/{name}; this keeps every line and every answer, and polls them all.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SIDECAR_BIN, pause } from '@leasehold/testkit';
import { stopProcess } from './sidecar.mjs';

const ETCD3_REPLICA = new URL('../candidates/etcd3-shards.mjs', import.meta.url).pathname;
/** One round of GET /v1/shards/{name} to every live replica, then this long before the next. */
const POLL_GAP_MS = 50;
/** The sidecars' store namespace: this script's own (../shards.mjs cleans only it). */
export const SHARDS_NAMESPACE = 'lhpf_bench_shards';
/** Every replica process started and not yet exited, of every group. */
const running = new Set();

/** SIGKILL every replica still running (the script is being stopped itself). */
export function killEveryReplica() {
  for (const child of running) child.kill('SIGKILL');
}

export class ShardReplicas {
  /**
   * @param {{ implementation: 'leasehold' | 'etcd3', store: string, group: string,
   *   count: number, ttlMs: number, retryMs: number, dir: string }} options  `dir`: a
   *   directory of this run's own, for the sidecars' YAML file
   */
  constructor(options) {
    this.options = options;
    /** id → { child, url } */
    this.live = new Map();
    /** Every shard line any replica logged, with its replica's id. */
    this.lines = [];
    /** Every answer: { id, sent, recv, owned }. */
    this.answers = [];
    /** Every other line (warnings, errors), for a look when a number is odd. */
    this.other = [];
    this.lastRound = null;
    this.polling = null;
    this.config = join(options.dir, `${options.group}.yaml`);
    writeFileSync(
      this.config,
      `shards:\n  - name: ${options.group}\n    count: ${options.count}\n`,
    );
  }

  /** Start a replica; resolves once it listens. */
  start(id) {
    const child = spawn(process.execPath, this.argv(id), { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.stderr.resume();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start listening`)), 30_000);
      child.once('exit', (code) => reject(new Error(`${id} exited with ${code} before listening`)));
      createInterface({ input: child.stdout }).on('line', (text) => {
        const line = parseLine(text);
        if (line?.url !== undefined && !this.live.has(id)) {
          clearTimeout(timer);
          this.live.set(id, { child, url: line.url });
          resolve(line.time);
        }
        if (line?.event?.startsWith('shard-')) this.lines.push({ ...line, id });
        else if (line !== null) this.other.push({ ...line, id });
      });
    });
  }

  argv(id) {
    const { implementation, store, group, count, ttlMs, retryMs } = this.options;
    if (implementation === 'etcd3') {
      return [ETCD3_REPLICA, '--store', store, '--group', group, '--count', String(count)].concat([
        '--id',
        id,
        '--ttl',
        String(ttlMs),
        '--retry',
        String(retryMs),
      ]);
    }
    return [SIDECAR_BIN, '--store', store, '--election', `${group}-e`, '--id', id]
      .concat(['--port', '0', '--config', this.config, '--store-prefix', SHARDS_NAMESPACE])
      .concat(['--ttl', `${ttlMs}ms`, '--retry-interval', `${retryMs}ms`]);
  }

  /** SIGKILL a replica: the time it was sent (its leases run out on their own). */
  kill(id) {
    const { child } = this.live.get(id);
    this.live.delete(id);
    const at = Date.now();
    child.kill('SIGKILL');
    return at;
  }

  /** SIGTERM every replica and wait for them (SIGKILL after 15 s): the time it was sent. */
  async stopAll() {
    this.stopPolling();
    const at = Date.now();
    const children = [...this.live.values()].map(({ child }) => child);
    this.live.clear();
    await Promise.all(children.map((child) => stopProcess(child)));
    return at;
  }

  startPolling() {
    let running = true;
    const loop = (async () => {
      while (running) {
        await this.pollOnce();
        await pause(POLL_GAP_MS);
      }
    })();
    this.polling = { stop: () => (running = false), loop };
  }

  stopPolling() {
    this.polling?.stop();
  }

  async pollOnce() {
    const replicas = [...this.live];
    const answers = await Promise.all(replicas.map(([id, { url }]) => this.ask(id, url)));
    const round = { at: Date.now(), answers: answers.filter((a) => a !== null) };
    this.answers.push(...round.answers);
    this.lastRound = round;
    return round;
  }

  async ask(id, url) {
    const sent = Date.now();
    try {
      const response = await fetch(`${url}/v1/shards/${this.options.group}`, {
        signal: AbortSignal.timeout(2_000),
      });
      const { owned } = await response.json();
      return { id, sent, recv: Date.now(), owned };
    } catch {
      return null; // Killed, or too slow under load: the next round asks again.
    }
  }

  /** The first round after `since` for which `wanted(round)` holds, or null after `withinMs`. */
  async until(wanted, since, withinMs) {
    while (Date.now() - since < withinMs) {
      const round = this.lastRound;
      if (round !== null && round.at > since && wanted(round)) return round;
      await pause(POLL_GAP_MS);
    }
    return null;
  }

  /** Wait until no replica logged a shard line for `quietMs` (at most `withinMs`). */
  async quiet(quietMs, withinMs) {
    const started = Date.now();
    for (;;) {
      const last = Math.max(started, this.lines.at(-1)?.time ?? 0);
      if (Date.now() - last >= quietMs || Date.now() - started >= withinMs) return;
      await pause(100);
    }
  }
}

function parseLine(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
