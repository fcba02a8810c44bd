import { LeaseholdConfigError } from '@leasehold/core';
import { isSecretName } from '../mask.js';
import { DEFAULT_NAMESPACE, requestTimeout, type StoreOptions } from '../options.js';
import { maskedHref, parseHostList, parsePasswordAuth } from '../store-url.js';

/**
 * `etcd://[user:password@]host:port[,host:port…][?timeout=ms]` and `etcds://…` (TLS).
 *
 * This module reads the URL only; it imports no gRPC so `createStore` could use it eagerly.
 */

export const DEFAULT_ETCD_PORT = 2379;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface EtcdConfig {
  /** `http://host:port` or `https://host:port`, as etcd3 wants them. */
  readonly endpoints: readonly string[];
  readonly secure: boolean;
  readonly auth: { readonly username: string; readonly password: string } | null;
  /** PEM contents; only for etcds://. */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** Key prefix: every key leasehold writes starts with `<namespace>/`. */
  readonly namespace: string;
  /** Deadline of each etcd call, so a stalled etcd fails the call rather than hanging it. */
  readonly requestTimeoutMs: number;
}

const NAMESPACE = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const ACCEPTED_URL =
  'expected etcd://host:port[,host:port…] or etcds://… (TLS), optionally with user:password@ and ?timeout=ms';
const LABEL = { name: 'etcd', example: 'etcd://127.0.0.1:2379' };

export function parseEtcdUrl(url: URL, options: StoreOptions = {}): EtcdConfig {
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'etcd' && scheme !== 'etcds') {
    throw new LeaseholdConfigError('store', maskedHref(url), ACCEPTED_URL);
  }
  const secure = scheme === 'etcds';
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new LeaseholdConfigError(
      'store path',
      url.pathname,
      'an etcd URL has no path; the key prefix is the namespace option',
    );
  }
  if (url.hash !== '') {
    throw new LeaseholdConfigError('store', maskedHref(url), ACCEPTED_URL);
  }
  const protocol = secure ? 'https' : 'http';
  const endpoints = parseHostList(url, DEFAULT_ETCD_PORT, LABEL).map(
    ({ host, port }) => `${protocol}://${host}:${port}`,
  );
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE.test(namespace) || namespace.length > 128) {
    throw new LeaseholdConfigError(
      'namespace',
      namespace,
      'use up to 128 characters from A-Z a-z 0-9 _ . - in /-separated segments',
    );
  }
  return {
    endpoints,
    secure,
    auth: parsePasswordAuth(url, LABEL),
    tls: parseTls(secure, options),
    namespace,
    requestTimeoutMs: parseQuery(url, requestTimeout(options, DEFAULT_REQUEST_TIMEOUT_MS)),
  };
}

function parseTls(secure: boolean, options: StoreOptions): EtcdConfig['tls'] {
  const tls = options.tls ?? {};
  const given = (['ca', 'cert', 'key'] as const).filter((field) => tls[field] !== undefined);
  if (!secure) {
    if (given.length > 0) {
      throw new LeaseholdConfigError(
        `tls.${given[0] ?? 'ca'}`,
        '(PEM)',
        'TLS material is used with etcds:// URLs only; use etcds://host:2379',
      );
    }
    return {};
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new LeaseholdConfigError(
      tls.cert === undefined ? 'tls.cert' : 'tls.key',
      '(missing)',
      'a client certificate needs both tls.cert and tls.key',
    );
  }
  for (const field of given) {
    if (!/-----BEGIN [A-Z0-9 ]+-----/.test(tls[field] ?? '')) {
      throw new LeaseholdConfigError(
        `tls.${field}`,
        '(not PEM)',
        'expected the PEM contents (-----BEGIN …-----), not a file path',
      );
    }
  }
  return tls;
}

/** `?timeout=ms` (the URL says it outright), else `fallbackMs`. */
function parseQuery(url: URL, fallbackMs: number): number {
  let timeoutMs = fallbackMs;
  for (const [name, raw] of url.searchParams) {
    if (name !== 'timeout') {
      throw new LeaseholdConfigError(
        `store parameter ${name}`,
        isSecretName(name) ? '***' : raw,
        'etcd:// accepts timeout (milliseconds per etcd call)',
      );
    }
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 100 || value > 60_000) {
      throw new LeaseholdConfigError(
        'store parameter timeout',
        raw,
        'must be a whole number of milliseconds from 100 to 60000',
      );
    }
    timeoutMs = value;
  }
  return timeoutMs;
}
