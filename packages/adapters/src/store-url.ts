import { maskUrl } from './mask.js';
import { LeaseholdConfigError } from '@leasehold/core';

/**
 * URL pieces that several adapters read the same way: a list of hosts (etcd, ZooKeeper),
 * `user:password@` credentials, and the URL as an error message may show it.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** How a scheme names itself in messages, e.g. `etcd` and `etcd://127.0.0.1:2379`. */
export interface UrlLabel {
  readonly name: string;
  readonly example: string;
}

/** Schemes whose URLs may list several hosts. */
const HOST_LIST_URL = /^((?:etcds?|zk):\/\/)([^/?#]*@)?([^/?#@]*)(.*)$/is;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const BRACKETED_IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;

/**
 * WHATWG URL parsing rejects `etcd://h1:2379,h2:2379` (it reads `2379,h2:2379` as the port).
 * This percent-encodes a multi-host list so `new URL()` accepts it; `parseHostList` decodes it
 * again. Other URLs come back unchanged.
 */
export function normalizeHostListUrl(raw: string): string {
  const match = HOST_LIST_URL.exec(raw);
  if (match === null) return raw;
  const [, scheme = '', userinfo = '', hosts = '', rest = ''] = match;
  if (!hosts.includes(',')) return raw;
  return `${scheme}${userinfo}${encodeURIComponent(hosts)}${rest}`;
}

/** The comma-separated hosts of a URL normalized by `normalizeHostListUrl`. */
export function parseHostList(
  url: URL,
  defaultPort: number,
  label: UrlLabel,
  options: { ipv6?: boolean } = {},
): HostPort[] {
  const list = safeDecode(url.host);
  if (list === '') {
    throw new LeaseholdConfigError(
      'store',
      maskedHref(url),
      `an ${label.name} URL needs at least one host, e.g. ${label.example}`,
    );
  }
  return list.split(',').map((entry) => parseHostPort(entry.trim(), defaultPort, options));
}

function parseHostPort(entry: string, defaultPort: number, options: { ipv6?: boolean }) {
  const ipv6 = options.ipv6 ?? true;
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(entry);
  const host = match?.[1] ?? '';
  if (match === null || !(HOST_NAME.test(host) || (ipv6 && BRACKETED_IPV6.test(host)))) {
    throw new LeaseholdConfigError(
      'store host',
      entry,
      ipv6
        ? 'expected host:port with a host name, an IPv4 address or a bracketed IPv6 address'
        : 'expected host:port with a host name or an IPv4 address (this client cannot dial IPv6 literals; use a host name)',
    );
  }
  const portText = match[2];
  const port = portText === undefined || portText === '' ? defaultPort : Number(portText);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) {
    throw new LeaseholdConfigError('store port', portText, 'must be a port number from 1 to 65535');
  }
  return { host, port };
}

/** `user:password@` as a pair, or null; both parts or neither. Never echoes the password. */
export function parsePasswordAuth(
  url: URL,
  label: UrlLabel,
): { readonly username: string; readonly password: string } | null {
  if (url.username === '' && url.password === '') return null;
  const username = safeDecode(url.username);
  if (username === '' || url.password === '') {
    throw new LeaseholdConfigError(
      'store credentials',
      username === '' ? '(no user name)' : `${username}:(no password)`,
      `${label.name} password authentication needs both, as ${label.example.replace('://', '://user:password@')}`,
    );
  }
  return { username, password: safeDecode(url.password) };
}

export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The URL for error messages: never with its password or a secret parameter. */
export function maskedHref(url: URL): string {
  return maskUrl(url.href);
}
