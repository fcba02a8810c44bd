import { describe, expect, it } from 'vitest';
import { failedOnHost, HostQuarantine, QUARANTINE_MS } from '../src/etcd/host-quarantine.js';

/**
 * A member cut off from its cluster still takes connections and times out every call that
 * needs a quorum; the chaos suite's etcd-member-cut showed a healthy two-member majority
 * deposing its leader again and again while a third of its renewals went there. The store
 * keeps calls away from such a member for a while, never from every member at once.
 */
describe('etcd member quarantine', () => {
  const grpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

  it('skips a member that failed while another member is fine, then takes it back', () => {
    let now = 0;
    const quarantine = new HostQuarantine(['http://m1:2379', 'm2:2379', 'm3:2379'], () => now);
    quarantine.failed('m3:2379');
    expect(quarantine.skips('m3:2379')).toBe(true);
    expect(quarantine.skips('http://m3:2379')).toBe(true); // etcd3 names hosts either way
    expect(quarantine.skips('m1:2379')).toBe(false);
    now += QUARANTINE_MS;
    expect(quarantine.skips('m3:2379')).toBe(false);
  });

  it('lets a member answer again as soon as it answered for the cluster', () => {
    const quarantine = new HostQuarantine(['m1:2379', 'm2:2379'], () => 0);
    quarantine.failed('m2:2379');
    quarantine.answered('m2:2379');
    expect(quarantine.skips('m2:2379')).toBe(false);
  });

  it('never skips every member: a whole-cluster outage costs nothing once it is over', () => {
    const quarantine = new HostQuarantine(['m1:2379', 'm2:2379'], () => 0);
    quarantine.failed('m1:2379');
    quarantine.failed('m2:2379');
    expect(quarantine.skips('m1:2379')).toBe(false);
    expect(quarantine.skips('m2:2379')).toBe(false);
  });

  it('does nothing with a single member', () => {
    const quarantine = new HostQuarantine(['m1:2379'], () => 0);
    quarantine.failed('m1:2379');
    expect(quarantine.skips('m1:2379')).toBe(false);
  });

  it('counts timeouts, lost connections and a missing quorum, not the cluster saying no', () => {
    expect(failedOnHost(grpcError(4, '4 DEADLINE_EXCEEDED: Deadline exceeded'))).toBe(true);
    expect(failedOnHost(grpcError(14, '14 UNAVAILABLE: No connection established'))).toBe(true);
    expect(failedOnHost(new Error('etcdserver: no leader'))).toBe(true);
    expect(failedOnHost(new Error('etcdserver: request timed out'))).toBe(true);
    expect(failedOnHost(grpcError(5, '5 NOT_FOUND: etcdserver: requested lease not found'))).toBe(
      false,
    );
    expect(failedOnHost(grpcError(9, 'etcdserver: key not found'))).toBe(false);
    expect(failedOnHost('not an error')).toBe(false);
  });
});
