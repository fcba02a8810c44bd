import { pause } from '@leasehold/testkit';
import { startWithLeader, TRIO, type Scenario } from './scenario.js';

/** Faults of the leader's own process: it dies, or it stops and comes back. */

export const kill: Scenario = {
  name: 'kill',
  summary:
    'the leader’s process group is SIGKILLed (with --commands: its watchdogs too); another takes over within about a TTL',
  backends: ['redis', 'redis-cluster', 'postgres', 'pgbouncer', 'etcd', 'zookeeper', 'sqlite'],
  async run(round) {
    const [first, ...others] = TRIO;
    const { leader } = await startWithLeader(round, [first], others);
    await round.kill(leader);
    await round.leader({ except: [leader] });
  },
};

export const freeze: Scenario = {
  name: 'freeze',
  summary:
    'the leader’s process group is SIGSTOPped past its TTL (with --commands: its watchdogs too), another takes over, then SIGCONTed',
  backends: ['redis', 'redis-cluster', 'postgres', 'pgbouncer', 'etcd', 'zookeeper', 'sqlite'],
  async run(round) {
    const [first, ...others] = TRIO;
    const { leader } = await startWithLeader(round, [first], others);
    await round.fault('SIGSTOP', leader.name, async () => {
      await leader.freeze();
      const frozenAt = round.recorder.time();
      // Frozen until another leads and a TTL has passed: it wakes up a stale leader.
      await round.leader({ except: [leader] });
      await pause(frozenAt + round.timing.ttlMs + 500 - round.recorder.time());
    });
    leader.thaw();
    round.mark('SIGCONT', leader.name);
    // It must answer "not leader" at once; keep recording while it finds out.
    await pause(round.timing.ttlMs);
  },
};

/** Fifty candidates; the leader is killed three times a round, each restarted. */
const MANY = 50;
const KILLS_PER_ROUND = 3;

export const many: Scenario = {
  name: 'many',
  summary: `${MANY} candidates; the leader is killed ${KILLS_PER_ROUND} times a round (and restarted)`,
  backends: ['redis', 'postgres', 'etcd', 'zookeeper', 'sqlite'],
  runsAlone: true,
  pollMs: 200,
  async run(round) {
    const names = Array.from({ length: MANY }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
    await round.startAll(names, {}, 5);
    let leader = await round.leader({ after: 0 });
    for (let kill = 0; kill < KILLS_PER_ROUND; kill += 1) {
      await round.kill(leader);
      const next = await round.leader({ except: [leader] });
      // Back to fifty: the killed candidate comes back as a new process.
      await round.start(leader.candidate);
      leader = next;
    }
  },
};
