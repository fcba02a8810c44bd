import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStore, maskUrl, urlSecrets } from '../src/index.js';

// Masking a store URL, whatever its password holds: every printable character, given raw
// or percent-encoded. A password must leave no run of four of its characters in what the
// sidecar shows: the masked URL, or an adapter's error about the URL.

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const password = fc.string({
  unit: fc.oneof(fc.constantFrom(...PRINTABLE), fc.constantFrom('é', '€', '😀')),
  minLength: 1,
  maxLength: 40,
});
/** How users write a password: raw (as typed) or percent-encoded (as they should). */
const spellings = (secret: string) => [secret, encodeURIComponent(secret)];

/** URLs with a password in the credentials, as each scheme takes one. */
const WITH_CREDENTIALS = [
  (p: string) => `redis://user:${p}@127.0.0.1:6379/0`,
  (p: string) => `rediss://:${p}@redis.example:6380`,
  (p: string) => `postgres://app:${p}@db.example/test?sslmode=require`,
  (p: string) => `etcds://root:${p}@h1:2379,h2:2379?timeout=500`,
  (p: string) => `zk://app:${p}@h1:2181,h2:2181/apps`,
];
/** A password in a query value: only percent-encoded is it one value (a raw & starts another). */
const IN_QUERY = [
  (p: string) =>
    `redis://h:6379?sentinels=a:1&sentinelMaster=m&sentinelPassword=${encodeURIComponent(p)}`,
  (p: string) => `postgres://app@db/test?password=${encodeURIComponent(p)}&sslmode=require`,
];

/** Runs of four characters of the secret, in every spelling, that `text` contains. */
function leakedRuns(text: string, secret: string, template: string): string[] {
  return spellings(secret).flatMap((spelling) =>
    Array.from({ length: Math.max(0, spelling.length - 3) }, (_, i) => spelling.slice(i, i + 4))
      // A run the URL holds anyway (`127.`, `user`) says nothing about the password.
      .filter((run) => text.includes(run) && !template.includes(run)),
  );
}

describe('maskUrl', () => {
  it('shows the same text whatever the password, raw or percent-encoded', () => {
    fc.assert(
      fc.property(password, (secret) => {
        for (const url of WITH_CREDENTIALS) {
          for (const spelling of spellings(secret)) {
            expect(maskUrl(url(spelling))).toBe(maskUrl(url('x')));
          }
        }
        for (const url of IN_QUERY) expect(maskUrl(url(secret))).toBe(maskUrl(url('x')));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the user name and the host, and hides the whole password', () => {
    expect(maskUrl('redis://user:ssw0rd@leak@127.0.0.1:6379')).toBe(
      'redis://user:***@127.0.0.1:6379',
    );
    expect(maskUrl('redis://user:pa#ss@127.0.0.1:6379')).toBe('redis://user:***@127.0.0.1:6379');
    expect(maskUrl('redis://user:p/a?s#s@h/0?sentinelPassword=x')).toBe(
      'redis://user:***@h/0?sentinelPassword=***',
    );
    expect(maskUrl('sqlite:///var/lib/leasehold@web/leasehold.db')).toBe(
      'sqlite:///var/lib/leasehold@web/leasehold.db',
    );
  });

  it('finds the password in every spelling, for redacting what drivers write', () => {
    expect(urlSecrets('redis://user:p%40ss@h?sentinelPassword=s%23cret')).toEqual([
      'p%40ss',
      'p@ss',
      's%23cret',
      's#cret',
    ]);
    expect(urlSecrets('redis://user@h')).toEqual([]);
  });
});

describe('errors about a store URL', () => {
  it('quote no run of four characters of a password, raw or percent-encoded', async () => {
    // A parameter redis:// does not take: refused before any connection, URL and all.
    const url = (p: string) => `redis://user:${p}@127.0.0.1:6379/0?bogus=1`;
    const failureOf = (store: string) =>
      createStore(store).then(
        async (opened) => {
          await opened.close();
          return new Error('opened');
        },
        (error: unknown) => error as Error,
      );
    // Every message an error about this URL can be (the words, not the password).
    const template = [
      (await failureOf(url('x'))).message,
      (await failureOf(url('x/x'))).message,
      // A raw ? in a password: the refusal of misread credentials ("… in a query value …").
      (await failureOf(url('x?x'))).message,
      // A password that starts with a raw #: the hint spells the encodings ("write %2F %3F
      // %23)"), and a password such as "#) " holds one of those runs encoded ("%23)%20").
      (await failureOf(url('#x'))).message,
    ].join('\n');
    await fc.assert(
      fc.asyncProperty(password, async (secret) => {
        for (const spelling of spellings(secret)) {
          const failure = await failureOf(url(spelling));
          expect(failure.message).not.toBe('opened');
          expect(leakedRuns(failure.message, secret, template)).toEqual([]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
