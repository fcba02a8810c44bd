import { describe, expect, it } from 'vitest';
import { requestTimeout } from '../src/options.js';

describe('request timeouts', () => {
  it('keep the adapter’s own unless a shorter one is asked for, and never fall below 250 ms', () => {
    expect(requestTimeout({}, 2_000)).toBe(2_000);
    expect(requestTimeout({ requestTimeoutMs: 3_333 }, 2_000)).toBe(2_000);
    expect(requestTimeout({ requestTimeoutMs: 666 }, 2_000)).toBe(666);
    expect(requestTimeout({ requestTimeoutMs: 10 }, 2_000)).toBe(250);
  });
});
