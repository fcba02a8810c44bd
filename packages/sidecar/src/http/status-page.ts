import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The browser status page (static/status.html) and the headers it is served with. */
export interface StatusPage {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
}

const PAGE_URL = new URL('../../static/status.html', import.meta.url);

let loaded: StatusPage | undefined;

/**
 * Read the page on first use (most sidecars are never opened in a browser) and keep it.
 * The Content-Security-Policy allows exactly the page's own inline style and script, by
 * hash, and requests to this sidecar only: a candidate id that slipped past textContent
 * still could not run anything.
 */
export function statusPage(): StatusPage {
  if (loaded !== undefined) return loaded;
  const html = readFileSync(PAGE_URL, 'utf8');
  const hashes = (tag: 'script' | 'style') =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
      .map(
        (match) =>
          `'sha256-${createHash('sha256')
            .update(match[1] ?? '')
            .digest('base64')}'`,
      )
      .join(' ');
  const policy = [
    "default-src 'none'",
    `script-src ${hashes('script')}`,
    `style-src ${hashes('style')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  loaded = {
    html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': policy,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    },
  };
  return loaded;
}

/**
 * Whether a `GET /` comes from a browser: one that names text/html in Accept. curl and the
 * Kubernetes leader-elector's clients accept anything or send no Accept at all, and keep
 * getting `{"name": …}`.
 */
export function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/html\b/i.test(accept);
}
