import { isIP } from 'node:net';
import { ConfigValueError } from '../config/config-errors.js';
import { FIELDS, type ConfigSource } from '../config/fields.js';

/** What `leasehold status` is told about the sidecar to ask. */
export interface StatusTargetInput {
  readonly flags: { readonly url?: string; readonly host?: string; readonly port?: string };
  readonly env: Readonly<Record<string, string | undefined>>;
}

const PORT_ACCEPTED = 'the port the sidecar listens on, a number from 1 to 65535';
const hostField = FIELDS.find((f) => f.key === 'host');
const portField = FIELDS.find((f) => f.key === 'port');

/**
 * The sidecar `leasehold status` asks: the one that the same flags and variables would start.
 * Flags before variables, as for every setting: --url, else --host/--port, else
 * LEASEHOLD_URL, else LEASEHOLD_HOST/LEASEHOLD_PORT, each defaulting as the sidecar does.
 * Throws a ConfigValueError naming a bad port or host as it was given.
 */
export function statusUrl({ flags, env }: StatusTargetInput): string {
  if (flags.url !== undefined) return flags.url;
  const byFlag = flags.host !== undefined || flags.port !== undefined;
  if (!byFlag && env.LEASEHOLD_URL !== undefined && env.LEASEHOLD_URL !== '') {
    return env.LEASEHOLD_URL;
  }
  const host = given('host', flags.host, env.LEASEHOLD_HOST);
  const port = given('port', flags.port, env.LEASEHOLD_PORT);
  return `http://${hostToAsk(host)}:${portToAsk(port)}`;
}

function given(flag: 'host' | 'port', fromFlag: string | undefined, fromEnv: string | undefined) {
  if (fromFlag !== undefined) return { kind: 'flag', name: flag, raw: fromFlag } as const;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { kind: 'env', name: `LEASEHOLD_${flag.toUpperCase()}`, raw: fromEnv } as const;
  }
  return { kind: 'default' } as const;
}

function portToAsk(source: ConfigSource): number {
  if (source.kind === 'default') return Number(portField?.defaultText);
  const port = Number(source.raw);
  if (!/^\d{1,5}$/.test(source.raw.trim()) || port < 1 || port > 65_535) {
    throw new ConfigValueError('port', source, source.raw, PORT_ACCEPTED);
  }
  return port;
}

/** A sidecar bound to every address is asked on loopback; an IPv6 address in brackets. */
function hostToAsk(source: ConfigSource): string {
  if (source.kind === 'default') return hostField?.defaultText ?? '127.0.0.1';
  const host = source.raw.replace(/^\[(.*)\]$/, '$1');
  if (hostField === undefined || hostField.parse(host) instanceof Error) {
    throw new ConfigValueError('host', source, source.raw, hostField?.accepted ?? 'a host');
  }
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}
