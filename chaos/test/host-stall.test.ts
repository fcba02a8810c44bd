import { describe, expect, it } from 'vitest';
import { HostStallMeter, stalled } from '../src/host-stall.js';
import { now, pause, until } from '@leasehold/testkit';

describe('the host stall meter', () => {
  it('measures a stall as long as the one that held its probe back', async () => {
    const meter = new HostStallMeter();
    try {
      const pid = meter.probePid ?? 0;
      await meter.ready;
      const from = now();
      process.kill(pid, 'SIGSTOP');
      await pause(500); // the stall itself, not a wait for something
      process.kill(pid, 'SIGCONT');
      await until('the probe reports its gap', 5_000, () =>
        meter.between(from, now()).longestGapMs > 0 ? true : undefined,
      );
      const stall = meter.between(from, now());
      expect(stall.longestGapMs).toBeGreaterThanOrEqual(450);
      expect(stall.longestGapMs).toBeLessThan(5_000);
      expect(stalled(stall)).toBe(true);
      // Outside the window, nothing.
      expect(meter.between(now() + 10_000, now() + 20_000).longestGapMs).toBe(0);
    } finally {
      meter.stop();
    }
  });
});
