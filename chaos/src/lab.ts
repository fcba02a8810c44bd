import { createNetLab, type LabHost, type NetLab } from './netlab.js';

/**
 * The suite's network lab for a whole run: the store host where private stores listen, and
 * candidate hosts made on first use and kept (each round kills what it started in them and
 * heals their paths).
 */
export class Lab {
  private readonly net: NetLab;
  private readonly hosts = new Map<string, LabHost>();

  constructor(prefix: string) {
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
  }
}
