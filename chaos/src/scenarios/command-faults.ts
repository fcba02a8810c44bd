import {
  BACKENDS,
  childrenOf,
  commandLineOf,
  type JobRun,
  parentOf,
  pause,
  signalGroup,
  signalProcess,
} from '@leasehold/testkit';
import type { Round } from '../round.js';
import type { Sidecar } from '../sidecars.js';
import { startWithLeader, TRIO, type Scenario } from './scenario.js';

/**
 * Faults of `leasehold run`'s own processes (commands mode only): the watchdog between the
 * sidecar and the job, the whole tree, and the job's process group. The checker sees any two jobs at once or a job on a stale
 * term; each scenario also checks that the job runs again after the fault.
 */

const EVERY_BACKEND = BACKENDS;

/** Three `leasehold run` candidates, the first one leading, and its job running. */
async function leaderWithJob(round: Round): Promise<{ leader: Sidecar; run: JobRun }> {
  const [first, ...others] = TRIO;
  const { leader } = await startWithLeader(round, [first], others);
  const run = await round.jobs.running(round.failoverBoundMs, leader.candidate);
  return { leader, run };
}

/** The watchdogs (`watchdog.bash`) the sidecar started and that still run. */
function watchdogsOf(sidecar: Sidecar): number[] {
  return childrenOf(sidecar.pid).filter((pid) => commandLineOf(pid).includes('watchdog.bash'));
}

/** After the fault at `at`, the job must run again (here or elsewhere) within the bound. */
async function checkJobRunsAgain(round: Round, at: number, oldPid: number): Promise<void> {
  const within = round.failoverBoundMs + round.timing.ttlMs;
  try {
    const next = await round.jobs.startedAfter(at, within, oldPid);
    round.check(
      'the job runs again',
      true,
      `${next.id}'s job started ${(next.first - at).toFixed(0)} ms after the fault`,
    );
  } catch {
    round.check('the job runs again', false, `no job started within ${within} ms of the fault`);
  }
}

export const killWatchdog: Scenario = {
  name: 'kill-watchdog',
  summary: 'the watchdog of the leader’s job is SIGKILLed; the job must stop and run again',
  backends: EVERY_BACKEND,
  commandsOnly: true,
  async run(round) {
    const { leader, run } = await leaderWithJob(round);
    const watchdog = parentOf(run.pid);
    if (watchdog === null || !commandLineOf(watchdog).includes('watchdog.bash')) {
      throw new Error(`the job ${run.pid} has no watchdog for a parent (${watchdog ?? 'gone'})`);
    }
    const at = round.recorder.time();
    round.mark('SIGKILL', `${leader.name}'s watchdog ${watchdog}`);
    process.kill(watchdog, 'SIGKILL');
    await checkJobRunsAgain(round, at, run.pid);
  },
};

export const killTree: Scenario = {
  name: 'kill-tree',
  summary:
    'the leader’s whole tree is SIGKILLed at once: the sidecar’s group, its watchdog and the job’s group',
  backends: EVERY_BACKEND,
  commandsOnly: true,
  async run(round) {
    const { leader, run } = await leaderWithJob(round);
    const at = round.recorder.time();
    // Each kind of process may sit in a group of its own: every watchdog is killed itself.
    const watchdogs = watchdogsOf(leader);
    round.mark(
      'SIGKILL',
      `${leader.name}'s group, watchdogs ${watchdogs.join(', ')}, job group ${run.pid}`,
    );
    // A watchdog whose job group died first may have exited already (it leaves when its
    // group is gone): that one is killed too, not an error of the round.
    signalGroup(run.pid, 'SIGKILL');
    for (const pid of watchdogs) signalProcess(pid, 'SIGKILL');
    await round.kill(leader);
    await checkJobRunsAgain(round, at, run.pid);
  },
};

export const freezeJob: Scenario = {
  name: 'freeze-job',
  summary:
    'the leader’s job is SIGSTOPped, the leader SIGTERMed, the job SIGCONTed: it must be gone by then',
  backends: EVERY_BACKEND,
  commandsOnly: true,
  async run(round) {
    const { leader, run } = await leaderWithJob(round);
    const at = round.recorder.time();
    await round.fault('SIGSTOP', `${leader.name}'s job group ${run.pid}`, async () => {
      signalGroup(run.pid, 'SIGSTOP');
      // A stopped job cannot act on SIGTERM: the stop must come to SIGKILL.
      await round.stop(leader);
      await checkJobRunsAgain(round, at, run.pid);
    });
    // Anything of the old job still there stamps again now: an overlap the checker sees.
    signalGroup(run.pid, 'SIGCONT');
    round.mark('SIGCONT', `${leader.name}'s job group ${run.pid}`);
    await pause(round.timing.ttlMs);
  },
};
