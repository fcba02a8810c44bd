import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Which boot of the host wrote a lease. Expiry runs on the host's monotonic clock, which
 * restarts from zero at boot: a lease row from an earlier boot must count as expired even
 * though its expiry may look far in the future.
 *
 * Every process on the host must compute the SAME id for the same boot, or each takes the
 * other's live lease for expired (two leaders). So only identifiers the kernel hands out
 * are used; nothing derived from the wall clock, which steps (NTP, sleep, a manual date).
 * Where the host has none, every process uses UNKNOWN_BOOT and the store falls back on
 * the lease's own TTL to recognise rows of an earlier boot (see isLive in store.ts).
 */

export const UNKNOWN_BOOT = 'unknown';

export interface BootIdSources {
  /** Linux: a random UUID per boot. */
  readonly linux: () => string;
  /** macOS: `sysctl -n kern.bootsessionuuid`, a UUID per boot. */
  readonly macos: () => string;
}

export const SYSTEM_BOOT_ID_SOURCES: BootIdSources = {
  linux: () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'),
  macos: () =>
    execFileSync('sysctl', ['-n', 'kern.bootsessionuuid'], {
      encoding: 'utf8',
      timeout: 2_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
};

export function readBootId(sources: BootIdSources = SYSTEM_BOOT_ID_SOURCES): string {
  for (const source of [sources.linux, sources.macos]) {
    try {
      const id = source().trim();
      if (id !== '') return id;
    } catch {
      // Not this platform: try the next source.
    }
  }
  return UNKNOWN_BOOT;
}

/** Milliseconds on the host-wide monotonic clock, which restarts with each boot. */
export function hostNow(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
