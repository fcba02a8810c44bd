import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetLab, type LabHost, type NetLab } from '@leasehold/testkit';

/** Where a run notes that it uses a lab prefix (making a lab deletes any left with it). */
function lockFile(prefix: string): string {
  return join(tmpdir(), `leasehold-chaos-${prefix}.pid`);
}

/** The process id of a live run using `prefix`, or null. */
export function labInUse(prefix: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile(prefix), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * The suite's network lab for a whole run: the store host where private stores listen, and
 * candidate hosts made on first use and kept (each round kills what it started in them and
 * heals their paths).
 */
export class Lab {
  private readonly net: NetLab;
  private readonly hosts = new Map<string, LabHost>();

  constructor(private readonly prefix: string) {
    const owner = labInUse(prefix);
    if (owner !== null) {
      throw new Error(`another chaos run (pid ${owner}) uses the lab prefix ${prefix}`);
    }
    writeFileSync(lockFile(prefix), `${process.pid}\n`);
    this.net = createNetLab(prefix);
  }

  get store(): LabHost {
    return this.net.store;
  }

  /** Where every candidate, in the root namespace or a lab host, reaches the store host. */
  get storeAddress(): string {
    return this.net.storeAddress;
  }

  /** A candidate host with a breakable path to the store host; `name`: 1-4 letters/digits. */
  host(name: string): LabHost {
    let host = this.hosts.get(name);
    if (host === undefined) {
      host = this.net.addHost(name);
      this.hosts.set(name, host);
    }
    return host;
  }

  destroy(): void {
    this.net.destroy();
    rmSync(lockFile(this.prefix), { force: true });
  }
}
