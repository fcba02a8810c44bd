import { type Backend, type LabHost, type MemberPlace, pause, until } from '@leasehold/testkit';
import type { ViolationKind } from '../checker.js';
import type { Round, StartOptions, Timing } from '../round.js';
import type { Sidecar } from '../sidecars.js';

/** A fault the suite knows how to inject, and on which backends it applies. */
export interface Scenario {
  readonly name: string;
  /** One line for `--list` and the docs. */
  readonly summary: string;
  readonly backends: readonly Backend[];
  /** Too heavy to share the machine with other rounds: run after them, one at a time. */
  readonly runsAlone?: boolean;
  /** A fault of the leader-only job or its watchdogs: runs only with `--commands`. */
  readonly commandsOnly?: boolean;
  /**
   * Every sidecar takes part in this many elections (default 1), named in a YAML file of the
   * round (with --commands, a job each); the checker checks each election on its own.
   */
  readonly elections?: number;
  /** Poll each sidecar this often instead of the run's default (many sidecars: less often). */
  readonly pollMs?: number;
  /** A TTL of its own instead of the run's (a fault that takes longer than the usual TTL). */
  readonly ttlMs?: number;
  /** Wait this long for an answer instead of the run's 400 ms (a sidecar under load). */
  readonly answerTimeoutMs?: number;
  /** Extra time its failovers may take, beyond the base bound. */
  readonly extraFailoverMs?: (timing: Timing) => number;
  /**
   * Violations a known product defect causes here: reported as such (with the defect named),
   * not counted as failures. Anything else still fails.
   */
  readonly knownDefects?: readonly KnownDefect[];
  run(round: Round): Promise<void>;
}

export interface KnownDefect {
  readonly kind: ViolationKind;
  /** What is wrong, in a sentence, for the report. */
  readonly defect: string;
}

/** The usual three candidates. */
export const TRIO = ['alpha', 'bravo', 'charlie'] as const;

/**
 * Start the victim alone and wait until it leads (with commands: until its job runs), then
 * the others: the fault is aimed at a known leader placed where the scenario needs it.
 */
export async function startWithLeader(
  round: Round,
  victim: Parameters<Round['start']>,
  others: readonly string[],
  options: Parameters<Round['start']>[1] = {},
) {
  const leader = await round.start(...victim);
  await round.leader({ after: 0 });
  // On a busy machine a first election can end before the job starts (the candidate then
  // resigns and, alone, is elected again): the fault must find the job running.
  await round.commands?.running(round.failoverBoundMs * 2, leader.candidate);
  const followers = await round.startAll(others, options);
  return { leader, followers };
}

/** The leader in lab host `v` (its path to the store breakable), two followers outside it. */
export async function leaderInLab(round: Round): Promise<{ leader: Sidecar; host: LabHost }> {
  const host = round.host('v');
  const [first, ...others] = TRIO;
  const { leader } = await startWithLeader(round, [first, { host }], others);
  return { leader, host };
}

/**
 * Three members of a replicated store: two in the store host; the third there too, or in a
 * lab host of its own (`thirdHost`), where clients reach it over its link from the root and
 * its peers over its store link, so that cutting that link cuts it off from its peers only.
 */
export function threePlaces(round: Round, thirdHost?: LabHost): MemberPlace[] {
  const { store, storeAddress } = round.lab;
  const inStoreHost: MemberPlace = {
    host: store,
    clientAddress: storeAddress,
    peerAddress: storeAddress,
  };
  if (thirdHost === undefined) return [inStoreHost, inStoreHost, inStoreHost];
  if (thirdHost.storeSideAddress === null) throw new Error('the third member needs a lab host');
  return [
    inStoreHost,
    inStoreHost,
    { host: thirdHost, clientAddress: thirdHost.address, peerAddress: thirdHost.storeSideAddress },
  ];
}

/** Three candidates and their first leader. */
export async function trioWithLeader(round: Round, store?: string) {
  const sidecars = await round.startAll(TRIO, store === undefined ? {} : { store });
  const leader = await round.leader({ after: 0 });
  return { sidecars, leader };
}

/**
 * `leader` (just started, `first` gone) leads, and two more candidates on `store` see it
 * as the leader: the set-up of the failover scenarios before they freeze it.
 */
export async function leaderSeenByFollowers(
  round: Round,
  leader: Sidecar,
  first: Sidecar,
  store: StartOptions,
): Promise<void> {
  await round.leader({ except: [first] });
  const followers = await round.startAll(['charlie', 'delta'], store);
  await until('the followers to see the leader', 10_000, () =>
    followers.every((f) => round.answer(f)?.leader === leader.candidate),
  );
}

/** Freeze `leader` right after a renewal, when its deadline is as far off as it gets. */
export async function freezeAfterRenewal(round: Round, leader: Sidecar): Promise<number> {
  await round.renewed(leader);
  await leader.freeze();
  const frozenAt = round.recorder.time();
  round.mark('SIGSTOP', leader.name);
  return frozenAt;
}

/** A replicated store loses its leader member (`kill`): the election carries on. */
export async function killLeaderMember(
  round: Round,
  fault: string,
  member: string,
  kill: () => Promise<void>,
): Promise<void> {
  await round.fault(fault, member, kill);
  await pause(round.timing.ttlMs * 2);
  await round.leader();
}

/**
 * The member in `host` is cut off from its peers (clients still reach it) until the
 * election has settled without it, then the cut heals.
 */
export async function cutMemberOff(
  round: Round,
  host: LabHost,
  fault: string,
  detail: string,
): Promise<void> {
  await round.fault(fault, detail, async () => {
    host.cutStore();
    // The other two still make a quorum: the election must carry on without this one.
    await round.stableLeader(round.timing.ttlMs, round.failoverBoundMs + round.timing.ttlMs);
  });
  host.healStore();
  round.mark('healed');
  await pause(round.timing.ttlMs);
  await round.leader();
}

/**
 * The leader is frozen right after a renewal (its deadline as far off as it gets), the
 * store fails over (`failOver`), and the leader wakes well inside its deadline, still
 * believing it leads: whoever acquired after the failover must not have led yet.
 */
export async function frozenAcrossFailover(
  round: Round,
  leader: Sidecar,
  failOver: () => Promise<void>,
): Promise<void> {
  const frozenAt = await freezeAfterRenewal(round, leader);
  await failOver();
  // Time for the others to reconnect and acquire; then wake the old leader well inside
  // its deadline.
  const wakeAt = Math.min(round.recorder.time() + 1_500, frozenAt + round.timing.ttlMs * 0.75);
  await pause(wakeAt - round.recorder.time());
  leader.thaw();
  round.mark('SIGCONT', leader.name);
  await round.leader();
}
