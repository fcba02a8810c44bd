// The side of the benchmark protocol that runs inside a candidate process. Every
// implementation (leasehold and the alternatives) is started the same way and reports the
// same way, so every scenario treats them alike:
//
//   argv:   --store URL --election NAME --id ID --ttl MS --retry MS [--count N]
//           [--namespace NAME] (leasehold's store namespace; the adapters' default without)
//           [--app-version V] (leasehold's member record: the newest version ranks first)
//   stdout: one JSON line per event {event, id, at}: started, elected, deposed, stopping,
//           released; `at` is wall-clock ms with sub-ms precision (comparable across
//           processes on one host).
//   IPC:    {type: 'is-leader', id, seq} → {type: 'is-leader', id, seq, isLeader, at}: what
//           the candidate's own code would answer its app at that moment.
//           {type: 'transfer', id, to, seq} → {type: 'transfer', id, seq, outcome | error, at}:
//           hand leadership to `to` (leasehold only: the others answer an error).
//           {type: 'stop', id} → a graceful stop of that candidate (as SIGTERM does for all).
//
// With --count N the process runs N candidates (ids ID-0 … ID-N-1), each with its own store
// connection: the 50-candidate scenario runs in a few processes instead of fifty.
import { parseArgs } from 'node:util';

/**
 * @typedef {{ isLeader(): boolean, stop(): Promise<void>, transfer?(to: string): Promise<object> }} Candidate
 * @typedef {{ id: string, store: string, election: string, ttlMs: number, retryMs: number,
 *   namespace: string | undefined, version: string | undefined,
 *   say: (event: string, fields?: object) => void }} CandidateOptions
 */

export const now = () => performance.timeOrigin + performance.now();

/** Run the candidates `start` makes, and serve the protocol until SIGTERM. */
export async function hostCandidates(
  /** @type {(o: CandidateOptions) => Promise<Candidate>} */ start,
) {
  const { values } = parseArgs({
    options: {
      store: { type: 'string' },
      election: { type: 'string' },
      id: { type: 'string' },
      ttl: { type: 'string', default: '3000' },
      retry: { type: 'string', default: '1000' },
      count: { type: 'string', default: '1' },
      namespace: { type: 'string' },
      'app-version': { type: 'string' },
    },
  });
  const count = Number(values.count);
  const ids =
    count === 1 ? [values.id] : Array.from({ length: count }, (_, i) => `${values.id}-${i}`);
  const sayFor =
    (id) =>
    (event, fields = {}) =>
      process.stdout.write(`${JSON.stringify({ event, id, at: now(), ...fields })}\n`);
  /** @type {Map<string, Candidate>} */
  const candidates = new Map();
  const stopped = new Map();
  const stop = (id) => {
    if (!stopped.has(id)) {
      const candidate = candidates.get(id);
      sayFor(id)('stopping');
      stopped.set(
        id,
        (candidate?.stop() ?? Promise.resolve()).then(
          () => sayFor(id)('released'),
          (error) => sayFor(id)('released', { error: String(error) }),
        ),
      );
    }
    return stopped.get(id);
  };
  process.on('message', (message) => {
    if (message?.type === 'is-leader') {
      const isLeader = candidates.get(message.id)?.isLeader() ?? false;
      process.send?.({ type: 'is-leader', id: message.id, seq: message.seq, isLeader, at: now() });
    } else if (message?.type === 'stop') {
      void stop(message.id);
    } else if (message?.type === 'transfer') {
      void transfer(candidates.get(message.id), message);
    }
  });
  process.once('SIGTERM', async () => {
    await Promise.all(ids.map(stop));
    process.exit(0);
  });
  for (const id of ids) {
    const say = sayFor(id);
    candidates.set(
      id,
      await start({
        id,
        store: values.store,
        election: values.election,
        ttlMs: Number(values.ttl),
        retryMs: Number(values.retry),
        namespace: values.namespace,
        version: values['app-version'],
        say,
      }),
    );
    say('started');
  }
}

/** Answer a transfer request with its outcome, or the error that refused it. */
async function transfer(candidate, { id, to, seq }) {
  const reply = (fields) => process.send?.({ type: 'transfer', id, seq, at: now(), ...fields });
  if (candidate?.transfer === undefined) return reply({ error: 'cannot transfer' });
  try {
    reply({ outcome: await candidate.transfer(to) });
  } catch (error) {
    reply({ error: error.code ?? String(error) });
  }
}

/**
 * The loop an alternative without its own campaign runs, as a user would write it: try to
 * take the lock every retry interval (jittered like leasehold's), renew it every TTL / 3
 * while held, and believe it leads from a successful take until a renewal fails.
 */
export function lockLoop({ ttlMs, retryMs, say, tryLock, renew, unlock }) {
  let leading = false;
  let stopped = false;
  let timer = null;
  const schedule = (ms, step) => {
    if (!stopped) timer = setTimeout(step, ms);
  };
  const follow = async () => {
    let taken = false;
    say('attempt');
    try {
      taken = await tryLock();
    } catch {
      taken = false;
    }
    if (stopped) {
      if (taken) await unlock().catch(() => {});
      return;
    }
    if (!taken) return schedule(retryMs * (0.8 + 0.4 * Math.random()), follow);
    leading = true;
    say('elected');
    schedule(ttlMs / 3, lead);
  };
  const lead = async () => {
    let renewed = false;
    try {
      renewed = await renew();
    } catch {
      renewed = false;
    }
    if (stopped) return;
    if (!renewed) {
      leading = false;
      say('deposed');
      return schedule(retryMs, follow);
    }
    schedule(ttlMs / 3, lead);
  };
  void follow();
  return {
    isLeader: () => leading,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const wasLeading = leading;
      leading = false;
      if (wasLeading) await unlock();
    },
  };
}
