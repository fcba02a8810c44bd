import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WallClock } from '../sidecars.js';
import { pause } from '@leasehold/testkit';
import { startWithLeader, TRIO, type Scenario } from './scenario.js';

/**
 * One candidate's wall clock jumps an hour ahead, then an hour back (libfaketime; its
 * monotonic clock is left alone, as NTP or an operator stepping the clock leaves it). Its
 * deadlines run on the monotonic clock, so nothing may change: the same leader, the same
 * term. Odd rounds jump the leader's clock, even rounds a follower's.
 */
export const clockJump: Scenario = {
  name: 'clock-jump',
  summary: 'one candidate’s wall clock jumps +1 h, then -1 h (faketime): nothing changes',
  backends: ['redis', 'postgres', 'etcd', 'zookeeper', 'sqlite'],
  async run(round) {
    const wallClock = new WallClock(join(tmpdir(), `lhch-clock-${process.pid}-${round.number}`));
    round.onCleanup(() => rmSync(wallClock.file, { force: true }));
    const [first, second, third] = TRIO;
    const jumpLeader = round.number % 2 === 1;
    const { leader, followers } = await startWithLeader(
      round,
      [first, jumpLeader ? { wallClock } : {}],
      [second, third],
      {},
    );
    const jumper = jumpLeader ? leader : followers[0];
    if (jumper === undefined) throw new Error('no follower to jump');
    if (!jumpLeader) {
      // Restart the first follower under the fake clock (it is not the leader).
      await round.kill(jumper);
      followers[0] = await round.start(jumper.candidate, { wallClock });
    }
    const before = round.answer(leader);
    const changesBefore = round.recorder.recorded().changes.length;
    for (const offset of ['+1h', '-1h']) {
      await round.fault(`wall clock ${offset}`, jumper.candidate, async () => {
        wallClock.jump(offset);
        // libfaketime reads the offset within a second; then a TTL and a half under it.
        await pause(1_000 + round.timing.ttlMs * 1.5);
      });
    }
    wallClock.jump('+0');
    const after = round.answer(leader);
    const changes = round.recorder.recorded().changes.slice(changesBefore);
    round.check(
      'the same leader under the same term',
      after?.isLeader === true && after.term === before?.term && changes.length === 0,
      `leader ${leader.name} term ${before?.term ?? '-'} → isLeader ${String(after?.isLeader)} term ` +
        `${after?.term ?? '-'}; ${changes.length} leadership changes logged meanwhile`,
    );
  },
};
