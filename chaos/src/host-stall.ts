import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { KILL_LEAD_MS } from '@leasehold/sidecar';
import { now } from '@leasehold/testkit';

/**
 * Whether this host itself stalled during a round: what no process on it can defend against.
 *
 * `leasehold run` stops a command by its lease's deadline only if its watchdog gets the CPU
 * within the SIGKILL's lead (docs/run.md, "What it cannot do"); a VM the hypervisor holds
 * back, or a host starved for longer than that, voids every timing guarantee on it, and a
 * round that found a violation across such a stall proves nothing either way. Two witnesses:
 * - steal time (/proc/stat): the hypervisor ran someone else on our virtual CPUs;
 * - a probe, a bash loop that sleeps 20 ms at a time like the watchdog does and notes every
 *   wake-up that came much later: whatever held it back would have held a watchdog back.
 * On this 2-core machine at load 7-10 the probe's longest gap was 30 ms.
 */

/** A stall at least this long makes a round's timing inconclusive: the SIGKILL's lead. */
export const HOST_STALL_MS = KILL_LEAD_MS;

const SAMPLE_MS = 100;
const PROBE_SLEEP_S = '0.02';
/** Gaps the probe reports: well above its sleep, well below a stall that matters. */
const PROBE_REPORT_MS = 100;

const PROBE = `
exec {never}<> <(:)
read -r up _ </proc/uptime; last=$((10#\${up/./} * 10))
echo ready
while :; do
  read -r -t ${PROBE_SLEEP_S} -u $never
  read -r up _ </proc/uptime; now=$((10#\${up/./} * 10))
  (( now - last > ${PROBE_REPORT_MS} )) && echo "$last $now"
  last=$now
done
`;

/** What a window of time shows of the host. */
export interface HostStall {
  /** The most steal time one virtual CPU had in any second of the window, in ms. */
  readonly worstStealMs: number;
  /** The probe's longest wait past its sleep that overlaps the window, in ms. */
  readonly longestGapMs: number;
}

export class HostStallMeter {
  /** [time, steal ms per CPU so far] every SAMPLE_MS, on this process's clock. */
  private readonly steal: [number, number][] = [];
  /** The probe's late wake-ups, [from, to] on this process's clock. */
  private readonly gaps: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;
  private probeReady: () => void = () => {};
  /** Resolves once the probe is in its loop (a test holds it back only then). */
  readonly ready = new Promise<void>((resolve) => (this.probeReady = resolve));
  private readonly probe: ChildProcess;
  /** /proc/uptime minus performance.now(), to 10 ms. */
  private readonly uptimeOffset = uptimeMs() - now();

  constructor() {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
    this.sample();
    this.probe = spawn('bash', ['-c', PROBE], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.probe.on('error', () => {}); // no bash: steal time alone is the witness
    if (this.probe.stdout !== null) {
      createInterface({ input: this.probe.stdout }).on('line', (line) => this.noteGap(line));
    }
  }

  /** What the host went through between `from` and `to` (this process's clock). */
  between(from: number, to: number): HostStall {
    return {
      worstStealMs: Math.round(this.worstSteal(from, to)),
      longestGapMs: Math.round(
        Math.max(0, ...this.gaps.filter(([a, b]) => b >= from && a <= to).map(([a, b]) => b - a)),
      ),
    };
  }

  /** The probe's pid: a test holds it back to see the stall measured. */
  get probePid(): number | undefined {
    return this.probe.pid;
  }

  stop(): void {
    clearInterval(this.timer);
    this.probe.kill('SIGKILL');
  }

  private sample(): void {
    const perCpu = stealMsPerCpu();
    if (perCpu !== null) this.steal.push([now(), perCpu]);
  }

  private noteGap(line: string): void {
    if (line === 'ready') {
      this.probeReady();
      return;
    }
    const [from, to] = line.split(' ').map(Number);
    if (from === undefined || to === undefined || !Number.isFinite(from + to)) return;
    this.gaps.push([from - this.uptimeOffset, to - this.uptimeOffset]);
  }

  /** The largest steal in any one-second span of samples inside [from, to]. */
  private worstSteal(from: number, to: number): number {
    const inside = this.steal.filter(([at]) => at >= from - 1_000 && at <= to);
    let worst = 0;
    let start = 0;
    for (const [at, total] of inside) {
      while (start < inside.length && (inside[start]?.[0] ?? at) < at - 1_000) start += 1;
      worst = Math.max(worst, total - (inside[start]?.[1] ?? total));
    }
    return worst;
  }
}

/** Whether a stall this long could explain a timing violation. */
export function stalled(stall: HostStall): boolean {
  return stall.worstStealMs >= HOST_STALL_MS || stall.longestGapMs >= HOST_STALL_MS;
}

export function describeStall(stall: HostStall): string {
  return `host stalled: ${stall.worstStealMs} ms steal in one second, probe held back ${stall.longestGapMs} ms`;
}

function uptimeMs(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1_000;
}

/** Steal time so far, in ms per virtual CPU, or null off Linux. */
function stealMsPerCpu(): number | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const cpus = lines.filter((l) => /^cpu\d/.test(l)).length;
    const fields = (lines[0] ?? '').trim().split(/\s+/);
    // "cpu user nice system idle iowait irq softirq steal …", in USER_HZ (100 a second).
    const steal = Number(fields[8]);
    return Number.isFinite(steal) && cpus > 0 ? (steal * 10) / cpus : null;
  } catch {
    return null;
  }
}
