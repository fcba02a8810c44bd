import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sidecar-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'leasehold-log-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The process reading the sidecar's log goes away (a log shipper restarted, a pipeline's
 * reader ended): every later line meets a closed pipe (EPIPE). The sidecar must carry on and
 * still stop on SIGTERM. With pino's default asynchronous destination it never exited: the
 * flush at exit retried the closed pipe every 100 ms for ever (sonic-boom 4).
 */
describe('the sidecar command, its log reader gone', () => {
  it('still shuts down on SIGTERM, within its grace', async () => {
    const child = spawn(
      process.execPath,
      [BIN, '--store', `sqlite://${join(dir, 'leases.db')}`, '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
        env: {
          ...process.env,
          LEASEHOLD_ELECTION: `reader-${randomUUID().slice(0, 8)}`,
          LEASEHOLD_SHUTDOWN_GRACE: '3s',
        },
      },
    );
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      const lines = createInterface({ input: child.stdout });
      await new Promise<void>((resolve) =>
        lines.on('line', (line) => {
          if (line.includes('"event":"elected"')) resolve();
        }),
      );
      lines.close();
      child.stdout.destroy(); // the reader is gone: the sidecar's next line meets EPIPE
      child.kill('SIGTERM');
      const outcome = await Promise.race([
        exited,
        new Promise<'still running'>((resolve) =>
          setTimeout(() => resolve('still running'), 8_000),
        ),
      ]);
      expect(outcome).toEqual({ code: 0, signal: null });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }, 20_000);
});
