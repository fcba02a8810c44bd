import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { leftRunning, until } from '@leasehold/testkit';
import { SidecarProcesses } from './helpers/sidecar-processes.js';

/**
 * `--app-health-command` runs in a process group of its own (src/app-health/probe.ts), so
 * a signal to the sidecar's group does not reach it; when the sidecar itself dies, killed
 * with no chance to clean up, the check's whole tree must die with it, not run on orphaned.
 */
const dir = mkdtempSync(join(tmpdir(), 'leasehold-health-command-'));
const store = `sqlite://${join(dir, 'leases.db')}`;
const sidecars = new SidecarProcesses(4_000);

afterEach(async () => {
  sidecars.killAll();
  await leftRunning(sidecars.marker, 10_000);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a health command', () => {
  it('dies, with everything it started, when the sidecar is SIGKILLed mid-check', async () => {
    const started = join(dir, `started-${randomUUID().slice(0, 8)}`);
    const sidecar = await sidecars.start(store, `orphan-${randomUUID().slice(0, 8)}`, 'o1', [
      // One check at start, running until its timeout (the interval, 60 s): mid-check for
      // as long as the test needs. A child in the background and one in the foreground.
      ...['--app-health-command', `touch ${started}; sleep 60 & sleep 60`],
      ...['--app-health-interval', '60s'],
    ]);
    await until('the check runs', 15_000, () => existsSync(started));

    sidecar.child.kill('SIGKILL');
    await sidecar.exited;
    // Every process carrying the test's marker (the sidecar's children inherit it): none
    // may run 5 s after the sidecar died (leftRunning kills and lists whatever does).
    expect(await leftRunning(sidecars.marker, 5_000)).toEqual([]);
  }, 60_000);
});
