import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-early-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Start a sidecar, SIGTERM it the moment it logs its address; its exit code and log. */
async function stopAtFirstSight(): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(
    process.execPath,
    [BIN, '--store', `sqlite://${join(dir, 'leases.db')}`, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, LEASEHOLD_ELECTION: `early-${randomUUID().slice(0, 8)}` },
    },
  );
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    if (line.includes('"url"')) child.kill('SIGTERM');
  });
  const code = await exited;
  return { code, lines };
}

describe('the sidecar command', () => {
  it('shuts down cleanly on a SIGTERM sent the moment it logs its address', async () => {
    // The signal races the handler's installation; a few rounds make a lost race likely.
    for (let round = 0; round < 8; round += 1) {
      const { code, lines } = await stopAtFirstSight();
      expect({ round, code }).toEqual({ round, code: 0 });
      expect(lines.some((line) => line.includes('shutting down'))).toBe(true);
    }
  }, 60_000);
});
