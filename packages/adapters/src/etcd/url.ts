import { LeaseholdConfigError } from '@leasehold/core';
import { isSecretName, maskUrl } from '../mask.js';
import { DEFAULT_NAMESPACE, type StoreOptions } from '../options.js';

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
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const BRACKETED_IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const ACCEPTED_URL =
  'expected etcd://host:port[,host:port…] or etcds://… (TLS), optionally with user:password@ and ?timeout=ms';

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
  const endpoints = parseHostList(url, secure ? 'https' : 'http');
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
    auth: parseAuth(url),
    tls: parseTls(secure, options),
    namespace,
    requestTimeoutMs: parseQuery(url),
  };
}

/**
 * WHATWG URL parsing rejects `etcd://h1:2379,h2:2379` (it reads `2379,h2:2379` as the port).
 * This percent-encodes a multi-host list so `new URL()` accepts it; `parseEtcdUrl` decodes it
 * again. Other URLs come back unchanged.
 */
export function normalizeEtcdUrl(raw: string): string {
  const match = /^(etcds?:\/\/)([^/?#]*@)?([^/?#@]*)(.*)$/is.exec(raw);
  if (match === null) return raw;
  const [, scheme = '', userinfo = '', hosts = '', rest = ''] = match;
  if (!hosts.includes(',')) return raw;
  return `${scheme}${userinfo}${encodeURIComponent(hosts)}${rest}`;
}

function parseHostList(url: URL, protocol: 'http' | 'https'): string[] {
  let list: string;
  try {
    list = decodeURIComponent(url.host);
  } catch {
    list = url.host;
  }
  if (list === '') {
    throw new LeaseholdConfigError(
      'store',
      maskedHref(url),
      'an etcd URL needs at least one host, e.g. etcd://127.0.0.1:2379',
    );
  }
  return list.split(',').map((entry) => `${protocol}://${parseHostPort(entry.trim())}`);
}

function parseHostPort(entry: string): string {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(entry);
  const host = match?.[1] ?? '';
  if (match === null || !(HOST_NAME.test(host) || BRACKETED_IPV6.test(host))) {
    throw new LeaseholdConfigError(
      'store host',
      entry,
      'expected host:port with a host name, an IPv4 address or a bracketed IPv6 address',
    );
  }
  const portText = match[2];
  const port = portText === undefined || portText === '' ? DEFAULT_ETCD_PORT : Number(portText);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) {
    throw new LeaseholdConfigError('store port', portText, 'must be a port number from 1 to 65535');
  }
  return `${host}:${port}`;
}

function parseAuth(url: URL): EtcdConfig['auth'] {
  if (url.username === '' && url.password === '') return null;
  const username = safeDecode(url.username);
  if (username === '' || url.password === '') {
    // Name the user but never echo a password.
    throw new LeaseholdConfigError(
      'store credentials',
      username === '' ? '(no user name)' : `${username}:(no password)`,
      'etcd password authentication needs both, as etcd://user:password@host:2379',
    );
  }
  return { username, password: safeDecode(url.password) };
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

function parseQuery(url: URL): number {
  let timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
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

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The URL for error messages: never with its password. */
export function maskedHref(url: URL): string {
  return maskUrl(url.href);
}
