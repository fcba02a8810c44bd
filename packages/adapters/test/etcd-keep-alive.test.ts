import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HostQuarantine } from '../src/etcd/host-quarantine.js';
import { KeepAliveLine } from '../src/etcd/keep-alive.js';
import type { KeepAliveStream, StreamOpener } from '../src/etcd/streams.js';

/**
 * Keep-alives on one stream kept open (keep-alive.ts): answers are paired with requests by
 * their order on the stream, so a request given up on must take its stream with it, or its
 * late answer would be taken for a later request's (whose TTL the elector counts from that
 * later request's start). Streams stand in for etcd's here; etcd-calls.test.ts and the etcd
 * tests run the line against the real one.
 */
class FakeStream extends EventEmitter {
  readonly written: string[] = [];
  cancelled = false;
  write(request: { ID: string }): void {
    this.written.push(request.ID);
  }
  end(): void {}
  cancel(): void {
    this.cancelled = true;
  }
  answer(id: string, ttl: number): void {
    this.emit('data', { ID: id, TTL: String(ttl) });
  }
}

function line(hosts: readonly string[] = ['']) {
  const opened: { stream: FakeStream; host: string }[] = [];
  const quarantine = new HostQuarantine(hosts.filter((host) => host !== ''));
  const opener = {
    hostCount: hosts.length,
    keepAlive: () => {
      const opening = {
        stream: new FakeStream(),
        host: hosts[opened.length % hosts.length] ?? '',
      };
      opened.push(opening);
      return Promise.resolve({
        stream: opening.stream as unknown as KeepAliveStream,
        host: opening.host,
      });
    },
  } as unknown as StreamOpener;
  return { keepAlives: new KeepAliveLine(opener, quarantine), opened, quarantine };
}

const within = (ms: number) => ({ deadline: Date.now() + ms });
/** Until `stream` has `count` requests written (writes follow the stream's opening). */
async function written(stream: () => FakeStream | undefined, count: number): Promise<FakeStream> {
  for (;;) {
    const current = stream();
    if (current !== undefined && current.written.length >= count) return current;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('etcd keep-alives on one stream', () => {
  it('sends every keep-alive on the one stream, answered in order per lease', async () => {
    const { keepAlives, opened } = line();
    const first = keepAlives.keepAlive('7', within(5_000));
    const second = keepAlives.keepAlive('7', within(5_000));
    const stream = await written(() => opened[0]?.stream, 2);
    stream.answer('7', 10);
    stream.answer('7', 9);
    expect((await first).ttlSeconds).toBe(10);
    expect((await second).ttlSeconds).toBe(9);
    const third = keepAlives.keepAliveMany(['7', '8'], within(5_000));
    await written(() => opened[0]?.stream, 4);
    stream.answer('8', 4);
    stream.answer('7', 6);
    expect((await third).ttlSeconds).toEqual(
      new Map([
        ['7', 6],
        ['8', 4],
      ]),
    );
    expect(opened).toHaveLength(1);
  });

  it('gives up a stream with an unanswered keep-alive: its late answer answers nothing later', async () => {
    const { keepAlives, opened } = line();
    await expect(keepAlives.keepAlive('7', within(30))).rejects.toMatchObject({ code: 4 });
    const late = opened[0]?.stream;
    const next = keepAlives.keepAlive('7', within(5_000));
    // The second request written, on whichever stream the line chose.
    while (opened.reduce((sum, { stream }) => sum + stream.written.length, 0) < 2) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const current = opened.at(-1)?.stream;
    // The first request's answer arrives now, then the one to the request after it.
    late?.answer('7', 10);
    current?.answer('7', 3);
    expect((await next).ttlSeconds).toBe(3);
    expect(late?.cancelled).toBe(true);
    expect(opened).toHaveLength(2);
  });

  it('fails every keep-alive on a stream that errs, and opens another for the next', async () => {
    const { keepAlives, opened } = line();
    const pending = keepAlives.keepAlive('7', within(5_000));
    const stream = await written(() => opened[0]?.stream, 1);
    stream.emit('error', Object.assign(new Error('14 UNAVAILABLE: reset'), { code: 14 }));
    await expect(pending).rejects.toThrow(/UNAVAILABLE/);
    const next = keepAlives.keepAlive('7', within(5_000));
    (await written(() => opened[1]?.stream, 1)).answer('7', 5);
    expect((await next).ttlSeconds).toBe(5);
  });

  it('leaves a member in quarantine for a stream to another', async () => {
    const { keepAlives, opened, quarantine } = line(['m1:2379', 'm2:2379']);
    const first = keepAlives.keepAlive('7', within(5_000));
    (await written(() => opened[0]?.stream, 1)).answer('7', 0);
    expect(await first).toEqual({ ttlSeconds: 0, host: 'm1:2379' });
    quarantine.failed('m1:2379');
    const next = keepAlives.keepAlive('7', within(5_000));
    (await written(() => opened[1]?.stream, 1)).answer('7', 5);
    expect(await next).toEqual({ ttlSeconds: 5, host: 'm2:2379' });
    expect(opened[0]?.stream.cancelled).toBe(true);
  });

  it('tells whether a lease runs long enough by its last answer, counted from the request', async () => {
    const { keepAlives, opened } = line();
    expect(keepAlives.runsAtLeast('7', 0)).toBe(false);
    const kept = keepAlives.keepAlive('7', within(5_000));
    (await written(() => opened[0]?.stream, 1)).answer('7', 2);
    await kept;
    expect(keepAlives.runsAtLeast('7', 1_000)).toBe(true);
    expect(keepAlives.runsAtLeast('7', 2_001)).toBe(false);
    keepAlives.close();
    expect(keepAlives.runsAtLeast('7', 0)).toBe(false);
    await expect(keepAlives.keepAlive('7', within(5_000))).rejects.toThrow(/closed/);
  });
});
