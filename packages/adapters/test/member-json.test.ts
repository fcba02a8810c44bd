import type { MemberRecord } from '@leasehold/core';
import { describe, expect, it } from 'vitest';
import { MemberJson, MemberLists, withOrderKey, withoutOrderKey } from '../src/records.js';

const metadata = { zone: 'a' };
const record = (changes: Partial<MemberRecord> = {}): MemberRecord => ({
  id: 'cpu27-m',
  priority: 1,
  startedAt: 1_000,
  heartbeatAt: 2_000,
  isLeader: false,
  metadata,
  drained: false,
  health: 'healthy',
  version: '1.2.0',
  ...changes,
});

/** What the cache must write: the record with its order key, as JSON (any field order). */
const whole = (member: MemberRecord): unknown => JSON.parse(JSON.stringify(withOrderKey(member)));

describe('MemberJson', () => {
  it('writes what JSON.stringify(withOrderKey(member)) writes, heartbeat after heartbeat', () => {
    const json = new MemberJson();
    for (const heartbeatAt of [2_000, 4_000, 6_000]) {
      const member = record({ heartbeatAt });
      expect(JSON.parse(json.of('cpu27-e', member))).toEqual(whole(member));
    }
  });

  it('writes the new record when a field other than the heartbeat changes', () => {
    const json = new MemberJson();
    json.of('cpu27-e', record());
    const changes: Partial<MemberRecord>[] = [
      { isLeader: true },
      { priority: 5 },
      { drained: true },
      { health: 'unhealthy' },
      { version: null },
      { metadata: { zone: 'b' } },
    ];
    for (const change of changes) {
      const member = record({ heartbeatAt: 3_000, ...change });
      expect(JSON.parse(json.of('cpu27-e', member))).toEqual(whole(member));
    }
    // A field dropped (an older record's shape) is a change too.
    const { drained, health, version, ...older } = record();
    expect([drained, health, version]).toEqual([false, 'healthy', '1.2.0']);
    expect(JSON.parse(json.of('cpu27-e', older))).toEqual(whole(older));
  });

  it('keeps elections apart, and its limit bounds what it keeps', () => {
    const json = new MemberJson({ limit: 2 });
    const a = record({ id: 'cpu27-a' });
    const b = record({ id: 'cpu27-b', priority: 9 });
    for (let round = 0; round < 3; round += 1) {
      for (const [election, member] of [
        ['cpu27-1', a],
        ['cpu27-2', b],
        ['cpu27-3', a],
      ] as const) {
        expect(JSON.parse(json.of(election, member))).toEqual(whole(member));
      }
    }
  });

  it('without an order key, writes what JSON.stringify(member) writes', () => {
    const json = new MemberJson({ orderKey: false });
    for (const member of [record(), record({ heartbeatAt: 9_000 }), record({ isLeader: true })]) {
      expect(JSON.parse(json.of('cpu27-e', member))).toEqual(JSON.parse(JSON.stringify(member)));
    }
  });

  it('reads back without the order key, a plain object', () => {
    const member = record();
    const read = withoutOrderKey(
      JSON.parse(new MemberJson().of('cpu27-e', member)) as MemberRecord,
    );
    expect(read).toEqual(member);
    expect(Object.keys(read)).not.toContain('orderKey');
  });
});

describe('MemberLists', () => {
  /** What a list read must answer: every text parsed whole, its order key dropped. */
  const whole = (texts: readonly (string | null)[]): MemberRecord[] =>
    texts
      .filter((text): text is string => typeof text === 'string')
      .map((text) => withoutOrderKey(JSON.parse(text) as MemberRecord));

  it('answers what parsing each record whole answers, tick after tick and change after change', () => {
    const json = new MemberJson();
    const lists = new MemberLists();
    const a = record({ id: 'cpu27-a' });
    const b = record({ id: 'cpu27-b', priority: 3 });
    const ticks: MemberRecord[][] = [
      [a, b],
      [
        { ...a, heartbeatAt: 4_000 },
        { ...b, heartbeatAt: 4_001 },
      ],
      [
        { ...a, heartbeatAt: 6_000, isLeader: true },
        { ...b, heartbeatAt: 6_001 },
      ],
      [{ ...b, heartbeatAt: 8_001, drained: true }],
    ];
    for (const members of ticks) {
      const texts = members.map((member) => json.of(`cpu27-${member.id}`, member));
      expect(lists.read('cpu27-e', [...texts, null])).toEqual(whole(texts));
    }
  });

  it('parses text in another shape (an older writer) whole', () => {
    const lists = new MemberLists();
    const older = JSON.stringify(withOrderKey(record({ heartbeatAt: 5_000 })));
    const odd = `{"heartbeatAt":1e3,${older.slice(1)}`;
    for (let tick = 0; tick < 2; tick += 1) {
      expect(lists.read('cpu27-e', [older])).toEqual(whole([older]));
    }
    expect(lists.read('cpu27-e', [odd])).toEqual(whole([odd]));
  });
});
