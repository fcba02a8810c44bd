import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SidecarProcesses, oneLeader } from './helpers/sidecar-processes.js';

/**
 * The status page in a real browser: Debian's Chromium driven by playwright-core, against
 * three real sidecar processes on the real Redis. scripts/services.sh installs Chromium.
 */
const CHROMIUM = process.env.LEASEHOLD_CHROMIUM ?? '/usr/bin/chromium';
const RESULTS = new URL('../../../test-results/', import.meta.url).pathname;
const TTL_MS = 2_000;

const processes = new SidecarProcesses(TTL_MS);
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/services.sh (installs Debian's chromium)`);
  }
  mkdirSync(RESULTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a sandbox without a network: no sandbox, no GPU, and none of Chromium's
    // own background connections (each one refused by the closed network would be noise).
    // playwright gives each launch a fresh, empty profile.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 30_000);

afterEach(() => processes.killAll());
afterAll(async () => {
  await browser?.close();
});

/**
 * Chromium logs an answer of 503 as a console error. /v1/members answers 503 while the
 * store does not answer within its timeout (666 ms at this test's 2 s lease; a loaded CI
 * machine gets there): the page shows that and asks again, so it is not a script error.
 */
const STORE_BUSY = /^Failed to load resource: the server responded with a status of 503\b/;

const field = (page: Page, name: string) => page.locator(`[data-field="${name}"]`);

describe('the status page', () => {
  it(
    'shows the leader, and the new one live after the leader stops',
    { timeout: 60_000 },
    async () => {
      const election = `page-${randomUUID().slice(0, 8)}`;
      const store = 'redis://127.0.0.1:6379';
      const sidecars = await Promise.all(
        ['alpha', 'bravo', 'charlie'].map((id) => processes.start(store, election, id)),
      );
      const first = await oneLeader(sidecars, 10_000);
      const watched = sidecars.find((sidecar) => sidecar !== first);
      if (watched === undefined) throw new Error('no follower');

      // A phone-sized window: the page must be readable without sideways scrolling.
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const scriptErrors: string[] = [];
      page.on('pageerror', (error) => scriptErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error' && !STORE_BUSY.test(message.text())) {
          scriptErrors.push(message.text());
        }
      });
      await page.goto(`${watched.url}/`);
      await expect
        .poll(() => field(page, 'leader').textContent(), { timeout: 10_000 })
        .toBe(first.id);
      await expect.poll(() => field(page, 'connection').textContent()).toBe('live');
      expect(await field(page, 'self').textContent()).toBe(watched.id);
      expect(await field(page, 'role').textContent()).toBe('follower');
      // Polled: with a 2 s lease on a loaded machine one slow store call shows the store
      // unavailable until the next call answers; the page must show it reachable again.
      await expect
        .poll(() => field(page, 'store-state').textContent(), { timeout: 10_000 })
        .toBe('reachable');
      await expect
        .poll(() => field(page, 'members').locator('tr').count(), { timeout: 10_000 })
        .toBe(3);
      const firstTerm = Number(await field(page, 'term').textContent());
      await page.screenshot({ path: join(RESULTS, 'status-page-before.png'), fullPage: true });

      first.child.kill('SIGTERM');
      const second = await oneLeader(
        sidecars.filter((sidecar) => sidecar !== first),
        5_000,
      );
      await expect
        .poll(() => field(page, 'leader').textContent(), { timeout: 5_000 })
        .toBe(second.id);
      expect(Number(await field(page, 'term').textContent())).toBeGreaterThan(firstTerm);
      await expect
        .poll(() => field(page, 'history').locator('li').first().textContent(), { timeout: 5_000 })
        .toContain(`${second.id} leads`);
      if (second === watched) {
        expect(await field(page, 'role').textContent()).toBe('LEADER');
      }
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(RESULTS, 'status-page.png'), fullPage: true });
      expect(scriptErrors).toEqual([]);
      await page.close();
    },
  );

  it(
    'lists every election of a sidecar of several, and shows the one chosen',
    { timeout: 60_000 },
    async () => {
      const prefix = `pages-${randomUUID().slice(0, 8)}`;
      const names = ['a', 'b', 'c'].map((name) => `${prefix}-${name}`);
      const sidecar = await processes.start('redis://127.0.0.1:6379', names[0] ?? '', 'alpha', [
        ...['--election', names[1] ?? '', '--election', names[2] ?? ''],
      ]);
      await oneLeader([sidecar], 10_000);
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const scriptErrors: string[] = [];
      page.on('pageerror', (error) => scriptErrors.push(error.message));
      await page.goto(`${sidecar.url}/`);
      const rows = field(page, 'elections').locator('tr');
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
      expect(await rows.locator('td:first-child').allTextContents()).toEqual(names);
      expect(await field(page, 'election').textContent()).toBe(names[0]);
      await rows.nth(2).locator('button').click();
      await expect
        .poll(() => field(page, 'election').textContent(), { timeout: 5_000 })
        .toBe(names[2]);
      await expect
        .poll(() => field(page, 'history').locator('li').first().textContent(), { timeout: 5_000 })
        .toContain('alpha leads');
      await page.goto(`${sidecar.url}/#${prefix}-nosuch`);
      await expect
        .poll(() => field(page, 'election').textContent(), { timeout: 5_000 })
        .toBe(names[0]);
      await page.screenshot({ path: join(RESULTS, 'status-page-elections.png'), fullPage: true });
      expect(scriptErrors).toEqual([]);
      await page.close();
    },
  );
});
