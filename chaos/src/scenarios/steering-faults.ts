import { type Backend, BACKENDS, type LabHost, pause, until } from '@leasehold/testkit';
import type { Round, StartOptions } from '../round.js';
import type { AdminAnswer, Sidecar } from '../sidecars.js';
import { lastTermLed, neverLed, onlyLeader } from '../steering-checks.js';
import type { Scenario } from './scenario.js';

/**
 * Operators steering leadership (issue 26, docs/design.md §3.6) under faults: a transfer to
 * a named candidate, and a drain, while the target or the old leader is killed, frozen or
 * cut off. The checker finds any two leaders, shared or falling terms (and with --commands
 * two jobs at once); each scenario checks what the operator was answered and who led.
 */

/**
 * Every backend: each adapter implements `transfer` and the member steering fields
 * (conformance `transfer: true`, issue 26). A store without them would answer 409
 * LEASEHOLD_E_TRANSFER_UNSUPPORTED, and the scenarios' checks would fail.
 */
export const TRANSFER_BACKENDS: readonly Backend[] = BACKENDS;

/** Where a candidate's path to its store can be cut: a store server, not SQLite's file. */
const CUTTABLE = TRANSFER_BACKENDS.filter((b) => b !== 'sqlite' && b !== 'redis-cluster');

const TIMED_OUT = 'LEASEHOLD_E_TRANSFER_TIMED_OUT';
const TARGET_UNKNOWN = 'LEASEHOLD_E_TRANSFER_TARGET_UNKNOWN';

/**
 * Poll each sidecar this often (instead of every 25 ms): an old leader that went on
 * answering "leader" after its hand-over would be deposed by its own transfer's first read
 * of the store, 10-20 ms later, and an overlap that short needs answers this close to show.
 */
const HANDOVER_POLL_MS = 5;

function describeAnswer(answer: AdminAnswer | Error): string {
  return answer instanceof Error
    ? answer.message
    : `${answer.status} ${JSON.stringify(answer.body)}`;
}

function transferred(answer: AdminAnswer | Error, to: string): boolean {
  return (
    !(answer instanceof Error) &&
    answer.status === 200 &&
    answer.body?.transferred === true &&
    answer.body.to === to
  );
}

/** A 409 TIMED_OUT in which the old leader took the election back. */
function timedOutAndRetaken(answer: AdminAnswer | Error): boolean {
  return (
    !(answer instanceof Error) &&
    answer.status === 409 &&
    answer.body?.code === TIMED_OUT &&
    answer.body.retaken === true
  );
}

/**
 * A 409 TARGET_UNKNOWN: the leader's member list no longer had the target, so nothing was
 * handed over. Right for a target killed as the transfer was asked once its record has
 * lapsed (late heartbeats on a loaded host): docs/operations.md, "Which transfer code when".
 */
function refusedAsUnknown(answer: AdminAnswer | Error): boolean {
  return (
    !(answer instanceof Error) && answer.status === 409 && answer.body?.code === TARGET_UNKNOWN
  );
}

/** Where each of the three candidates runs: the root namespace, or a lab host. */
interface Places {
  readonly alpha?: LabHost;
  readonly charlie?: LabHost;
}

/**
 * alpha leads, then bravo and charlie join in that order (charlie last in line: the
 * youngest), all with the admin routes and each serving them before the next starts;
 * resolves once the member list shows all three.
 */
async function steeredTrio(round: Round, places: Places = {}) {
  const at = (host: LabHost | undefined): StartOptions =>
    host === undefined ? { admin: true } : { admin: true, host };
  const alpha = await startServing(round, 'alpha', at(places.alpha));
  await round.leader({ after: 0 });
  await round.commands?.running(round.failoverBoundMs * 2, alpha.candidate);
  const bravo = await startServing(round, 'bravo', at(undefined));
  const charlie = await startServing(round, 'charlie', at(places.charlie));
  await membersListed(round, bravo, ['alpha', 'bravo', 'charlie']);
  return { alpha, bravo, charlie };
}

/**
 * Start a candidate and wait until it serves its admin routes. With the admin token it loads
 * them (Fastify) before it competes (docs/design.md §4), so this costs nothing; it also
 * keeps a candidate from being asked anything before it serves.
 */
async function startServing(round: Round, candidate: string, options: StartOptions) {
  const sidecar = await round.start(candidate, options);
  await until(`${sidecar.name} to serve its admin routes`, round.failoverBoundMs, () =>
    fetch(`${sidecar.url}/v1/members`).then(
      (response) => response.ok,
      () => false,
    ),
  );
  return sidecar;
}

/** Wait until `sidecar`'s `/v1/members` lists every one of `ids` (their records are written). */
async function membersListed(round: Round, sidecar: Sidecar, ids: readonly string[]) {
  await until('every candidate in the member list', round.failoverBoundMs, async () => {
    const response = await fetch(`${sidecar.url}/v1/members`).catch(() => null);
    if (response?.ok !== true) return false;
    const { members } = (await response.json()) as { members: { id: string }[] };
    return ids.every((id) => members.some((m) => m.id === id));
  });
}

/** POST /v1/transfer from `from` to `to`, as a marked step; a failed request is its Error. */
function transfer(round: Round, from: Sidecar, to: string): Promise<AdminAnswer | Error> {
  return round.fault('transfer', `${from.name} → ${to}`, () =>
    from.admin('/v1/transfer', { to }).catch((error: unknown) => error as Error),
  );
}

/** The plain transfer: the named candidate leads, the old one never again, terms rise. */
export const transferScenario: Scenario = {
  name: 'transfer',
  summary: 'the leader transfers to the last in line: it leads, under a higher term, at once',
  backends: TRANSFER_BACKENDS,
  pollMs: HANDOVER_POLL_MS,
  async run(round) {
    const { alpha, charlie } = await steeredTrio(round);
    const oldTerm = lastTermLed(round.recorder.recorded().answers, 'alpha', round.recorder.time());
    const answer = await transfer(round, alpha, 'charlie');
    const answeredAt = round.recorder.time();
    round.check(
      'the transfer was answered 200',
      transferred(answer, 'charlie'),
      describeAnswer(answer),
    );
    // A TTL of answers after the handover: only charlie leads, under a higher term.
    await pause(round.timing.ttlMs);
    const verdict = onlyLeader(
      round.recorder.recorded().answers,
      charlie.candidate,
      answeredAt,
      round.recorder.time(),
      oldTerm,
    );
    round.check('the named candidate leads, under a higher term', verdict.ok, verdict.detail);
  },
};

/** How a fault hits one sidecar during a transfer, and how it ends. */
interface Fault {
  readonly name: string;
  /** What the fault made of its victim, for the checks' names. */
  readonly made: string;
  readonly hit: (round: Round, sidecar: Sidecar, host: LabHost | undefined) => Promise<void>;
  readonly heal: (round: Round, sidecar: Sidecar, host: LabHost | undefined) => Promise<void>;
}

const KILL: Fault = {
  name: 'kill',
  made: 'killed',
  hit: (round, sidecar) => round.kill(sidecar),
  heal: async () => {},
};

const FREEZE: Fault = {
  name: 'freeze',
  made: 'frozen',
  hit: async (round, sidecar) => {
    await sidecar.freeze();
    round.mark('SIGSTOP', sidecar.name);
  },
  heal: async (round, sidecar) => {
    sidecar.thaw();
    round.mark('SIGCONT', sidecar.name);
  },
};

const CUT: Fault = {
  name: 'cut',
  made: 'cut off',
  hit: async (round, sidecar, host) => {
    if (host === undefined) throw new Error(`${sidecar.name} is not in a lab host`);
    host.cutStore();
    round.mark('path cut', `${sidecar.name} ↔ store`);
  },
  heal: async (round, sidecar, host) => {
    host?.healStore();
    round.mark('healed', `${sidecar.name} ↔ store`);
  },
};

/**
 * The target is hit, then the transfer is asked: it cannot claim, so the transfer must fail
 * cleanly (409 TIMED_OUT) with the old leader back in the lead. A kill hits during the
 * transfer instead (the target may have claimed already: then the transfer succeeded; or
 * its member record may be gone already: then it is refused, and the old leader never
 * stepped down).
 */
async function targetHit(
  round: Round,
  fault: Fault,
  alpha: Sidecar,
  charlie: Sidecar,
  host?: LabHost,
) {
  const during = fault === KILL;
  const hit = fault.hit(round, charlie, host);
  if (!during) await hit;
  const answer = await transfer(round, alpha, 'charlie');
  await hit;
  const ok =
    timedOutAndRetaken(answer) ||
    (during && (transferred(answer, 'charlie') || refusedAsUnknown(answer)));
  round.check(
    during
      ? `a transfer to a target killed during it succeeded, failed with ${TIMED_OUT} (retaken), or was refused with ${TARGET_UNKNOWN}`
      : `a transfer to a target ${fault.made} failed with ${TIMED_OUT}, retaken`,
    ok,
    describeAnswer(answer),
  );
  if (timedOutAndRetaken(answer)) {
    await until(
      'the old leader to lead again',
      round.failoverBoundMs,
      () => round.answer(alpha)?.isLeader === true,
    );
  }
  await fault.heal(round, charlie, host);
  await round.leader();
}

/**
 * The old leader is hit while its transfer to bravo is under way: whatever the store saw of
 * the handover, another leads afterwards, and never two at once.
 */
async function leaderHit(round: Round, fault: Fault, alpha: Sidecar, host?: LabHost) {
  // Not awaited before the heal: a frozen leader answers only once it is thawed.
  const answer = transfer(round, alpha, 'bravo');
  await fault.hit(round, alpha, host);
  await round.leader({ except: [alpha] });
  // A frozen or cut-off leader comes back after a TTL more: it must not lead on.
  if (fault !== KILL) await pause(round.timing.ttlMs);
  await fault.heal(round, alpha, host);
  round.mark('transfer answered', describeAnswer(await answer));
  await pause(round.timing.ttlMs);
}

function transferUnder(fault: Fault, summary: string): Scenario {
  return {
    name: `transfer-${fault.name}`,
    summary,
    backends: fault === CUT ? CUTTABLE : TRANSFER_BACKENDS,
    async run(round) {
      const places = fault === CUT ? { alpha: round.host('v'), charlie: round.host('w') } : {};
      const { alpha, charlie } = await steeredTrio(round, places);
      await targetHit(round, fault, alpha, charlie, places.charlie);
      // The target's fault is over; alpha leads again unless charlie took it before dying.
      const leader = await round.leader();
      if (leader !== alpha) return;
      await leaderHit(round, fault, alpha, places.alpha);
    },
  };
}

export const transferKill = transferUnder(
  KILL,
  'the transfer’s target, then the old leader, is SIGKILLed during a transfer: never two leaders',
);
export const transferFreeze = transferUnder(
  FREEZE,
  'a transfer to a frozen target fails (TIMED_OUT, the old leader retakes); the old leader frozen during one',
);
export const transferCut = transferUnder(
  CUT,
  'a transfer to a target cut off from the store fails (TIMED_OUT, retaken); the old leader cut during one',
);

/** Drain the leader: another leads, and the drained one never does until undrained. */
export const drain: Scenario = {
  name: 'drain',
  summary:
    'the leader is drained: another leads; that one is killed, and the drained one still never leads until undrained',
  backends: TRANSFER_BACKENDS,
  async run(round) {
    const { alpha } = await steeredTrio(round);
    const answer = await round.fault('drain', alpha.name, () =>
      alpha.admin('/v1/drain').catch((error: unknown) => error as Error),
    );
    const drainedAt = round.recorder.time();
    round.check(
      'the drain was answered 200',
      !(answer instanceof Error) && answer.status === 200,
      describeAnswer(answer),
    );
    const next = await round.leader({ except: [alpha] });
    await round.kill(next);
    await round.leader({ except: [alpha, next] });
    const undrainAt = round.recorder.time();
    const verdict = neverLed(
      round.recorder.recorded().answers,
      alpha.candidate,
      drainedAt,
      undrainAt,
    );
    round.check('the drained candidate never led', verdict.ok, verdict.detail);
    const undrained = await round.fault('undrain', alpha.name, () =>
      alpha.admin('/v1/undrain').catch((error: unknown) => error as Error),
    );
    round.check(
      'the undrain was answered 200',
      !(undrained instanceof Error) && undrained.status === 200,
      describeAnswer(undrained),
    );
  },
};
