/**
 * Every error leasehold raises carries a stable `code` from this registry. Codes are part of
 * the public API: scripts and dashboards match on them, so a code is never renamed or reused.
 * `docs/errors.md` documents each one; a test keeps the two in step.
 *
 * `transient`: retrying the same call later can succeed. `request`: the error answers one
 * HTTP request to the sidecar and ends nothing else (the sidecar keeps running). `fault`:
 * whose change fixes it: `configuration`, a value the user gave (a flag, a variable, a file
 * it names: exit code 2 at start-up), or `environment`, the world around the sidecar (the
 * store, the network, the port: exit code 1).
 */
export const errorRegistry = {
  LEASEHOLD_E_CONFIG: {
    transient: false,
    request: false,
    fault: 'configuration',
    summary: 'A configuration value is invalid.',
  },
  LEASEHOLD_E_TIMING: {
    transient: false,
    request: false,
    fault: 'configuration',
    summary: 'The election timing options break one of the elector rules.',
  },
  LEASEHOLD_E_STORE_UNAVAILABLE: {
    transient: true,
    request: false,
    fault: 'environment',
    summary: 'The store could not be reached or did not answer in time.',
  },
  LEASEHOLD_E_STORE_TIMEOUT: {
    transient: true,
    request: false,
    fault: 'environment',
    summary: 'A store request took longer than the elector could wait for it.',
  },
  LEASEHOLD_E_STORE_AUTH: {
    transient: false,
    request: false,
    fault: 'environment',
    summary: 'The store refused the credentials or the permission to use the election key.',
  },
  LEASEHOLD_E_STORE_PROTOCOL: {
    transient: false,
    request: false,
    fault: 'environment',
    summary:
      'The store answered something leasehold cannot use (wrong server type, missing command, corrupt record).',
  },
  LEASEHOLD_E_STORE_POOLED: {
    transient: false,
    request: false,
    fault: 'environment',
    summary:
      'A connection pooler shares the store session between clients (PgBouncer transaction or statement pooling).',
  },
  LEASEHOLD_E_STORE_CLOSED: {
    transient: false,
    request: false,
    fault: 'environment',
    summary: 'The store handle was used after close().',
  },
  LEASEHOLD_E_UNSUPPORTED_STORE: {
    transient: false,
    request: false,
    fault: 'configuration',
    summary: 'The store URL names a scheme leasehold does not support.',
  },
  LEASEHOLD_E_DRIVER_MISSING: {
    transient: false,
    request: false,
    fault: 'environment',
    summary: 'The client library the store URL needs is not installed.',
  },
  LEASEHOLD_E_ELECTOR_STATE: {
    transient: false,
    request: false,
    fault: 'environment',
    summary:
      'The elector was used in a state that does not allow the call (started twice, used after stop).',
  },
  LEASEHOLD_E_BAD_REQUEST: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'An HTTP request to the sidecar had an invalid parameter.',
  },
  LEASEHOLD_E_UNAUTHORIZED: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'An admin request to the sidecar had a missing or wrong bearer token.',
  },
  LEASEHOLD_E_RESIGN_DISABLED: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'POST /v1/resign was called on a sidecar started without an admin token, or whose token would cross the network in clear.',
  },
  LEASEHOLD_E_HOST_NOT_ALLOWED: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'A request to a sidecar bound to loopback named another host (Host header): DNS rebinding is refused.',
  },
  LEASEHOLD_E_TOO_MANY_SUBSCRIBERS: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'The sidecar already holds as many event streams or long-polls as it allows; retry after Retry-After.',
  },
  LEASEHOLD_E_NOT_FOUND: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'No route of the sidecar answers this method and path.',
  },
  LEASEHOLD_E_UNKNOWN_ELECTION: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'A route under /v1/elections/{name} named an election this sidecar does not take part in.',
  },
  LEASEHOLD_E_UNKNOWN_SHARD_GROUP: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'A route under /v1/shards/{name} named a shard group this sidecar does not run.',
  },
  LEASEHOLD_E_NOT_ACCEPTABLE: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'The Accept header refuses the only media type the route produces.',
  },
  LEASEHOLD_E_INTERNAL: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'The sidecar could not answer a request for an unexpected reason (see its log).',
  },
  LEASEHOLD_E_TRANSFER_NOT_LEADER: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'A transfer was asked of a candidate that does not lead (409).',
  },
  LEASEHOLD_E_TRANSFER_TARGET_UNKNOWN: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'The candidate a transfer names is not a live member of the election (409).',
  },
  LEASEHOLD_E_TRANSFER_TARGET_DRAINING: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'The candidate a transfer names is drained (409).',
  },
  LEASEHOLD_E_TRANSFER_TARGET_UNHEALTHY: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'The candidate a transfer names reports its app unhealthy (409).',
  },
  LEASEHOLD_E_TRANSFER_UNSUPPORTED: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'The store cannot transfer leadership to a named candidate, or keeps no member records (409).',
  },
  LEASEHOLD_E_TRANSFER_IN_PROGRESS: {
    transient: false,
    request: true,
    fault: 'environment',
    summary: 'Another transfer of this election is under way (409).',
  },
  LEASEHOLD_E_TRANSFER_TIMED_OUT: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'The named candidate did not take leadership within the reservation; the old leader kept or took it back.',
  },
  LEASEHOLD_E_TRANSFER_NO_CANDIDATE: {
    transient: false,
    request: true,
    fault: 'environment',
    summary:
      'A drained or unhealthy leader found no eligible candidate to hand over to, and keeps leading.',
  },
} as const satisfies Record<
  string,
  { transient: boolean; request: boolean; fault: Fault; summary: string }
>;

export type ErrorCode = keyof typeof errorRegistry;

/** Whether a value the user gave must change, or the world around the sidecar. */
export type Fault = 'configuration' | 'environment';

/** Whether the user must change a value to get past an error with `code`. */
export function isConfigurationFault(code: ErrorCode): boolean {
  return errorRegistry[code].fault === 'configuration';
}

export const errorCodes = Object.keys(errorRegistry) as ErrorCode[];

export interface LeaseholdErrorOptions {
  cause?: unknown;
}

/** Base class of every error leasehold throws. */
export class LeaseholdError extends Error {
  readonly code: ErrorCode;
  /** True when retrying the same call later can succeed. */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: LeaseholdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = errorRegistry[code].transient;
  }
}

/**
 * A configuration value is wrong. The message names the field, the value it got and what it
 * accepts, so the sidecar can print it as the one line it exits with.
 */
export class LeaseholdConfigError extends LeaseholdError {
  readonly field: string;
  readonly value: unknown;
  readonly accepted: string;

  constructor(
    field: string,
    value: unknown,
    accepted: string,
    options: LeaseholdErrorOptions & { code?: 'LEASEHOLD_E_CONFIG' | 'LEASEHOLD_E_TIMING' } = {},
  ) {
    super(
      options.code ?? 'LEASEHOLD_E_CONFIG',
      `invalid ${field}: ${describeValue(value)}; ${accepted}`,
      options,
    );
    this.field = field;
    this.value = value;
    this.accepted = accepted;
  }
}

/** The election timing options contradict each other; the message names the rule. */
export class LeaseholdTimingError extends LeaseholdConfigError {
  constructor(field: string, value: unknown, rule: string) {
    super(field, value, rule, { code: 'LEASEHOLD_E_TIMING' });
  }
}

/** Transient: the store is down, unreachable or overloaded. Retry with backoff. */
export class StoreUnavailableError extends LeaseholdError {
  constructor(message: string, options: LeaseholdErrorOptions = {}) {
    super('LEASEHOLD_E_STORE_UNAVAILABLE', message, options);
  }
}

/** Transient: the elector gave up waiting for a store answer. The request may still land. */
export class StoreTimeoutError extends LeaseholdError {
  constructor(operation: string, timeoutMs: number) {
    super('LEASEHOLD_E_STORE_TIMEOUT', `store ${operation} did not answer within ${timeoutMs} ms`);
  }
}

/** Fatal: the store refused our credentials or permissions. Retrying will not help. */
export class StoreAuthError extends LeaseholdError {
  constructor(message: string, options: LeaseholdErrorOptions = {}) {
    super('LEASEHOLD_E_STORE_AUTH', message, options);
  }
}

/** Fatal: the store answered in a way leasehold cannot work with. */
export class StoreProtocolError extends LeaseholdError {
  constructor(message: string, options: LeaseholdErrorOptions = {}) {
    super('LEASEHOLD_E_STORE_PROTOCOL', message, options);
  }
}

/**
 * Fatal: a pooler between leasehold and PostgreSQL hands the session's statements to
 * backends other clients use too, so a session-level lock would not be ours alone.
 */
export class StorePoolerError extends LeaseholdError {
  constructor(message: string, options: LeaseholdErrorOptions = {}) {
    super('LEASEHOLD_E_STORE_POOLED', message, options);
  }
}

export class StoreClosedError extends LeaseholdError {
  constructor(backend: string) {
    super('LEASEHOLD_E_STORE_CLOSED', `the ${backend} store is closed`);
  }
}

export class UnsupportedStoreError extends LeaseholdError {
  constructor(scheme: string, supported: readonly string[]) {
    super(
      'LEASEHOLD_E_UNSUPPORTED_STORE',
      `unsupported store scheme "${scheme}"; supported: ${supported.join(', ')}`,
    );
  }
}

/** The store's client library (an optional peer dependency) is not installed. */
export class DriverMissingError extends LeaseholdError {
  readonly driver: string;

  constructor(scheme: string, driver: string, options: LeaseholdErrorOptions = {}) {
    super(
      'LEASEHOLD_E_DRIVER_MISSING',
      `${scheme}:// stores need the ${driver} package, which is not installed: npm install ${driver}`,
      options,
    );
    this.driver = driver;
  }
}

export class ElectorStateError extends LeaseholdError {
  constructor(message: string) {
    super('LEASEHOLD_E_ELECTOR_STATE', message);
  }
}

/** The codes a transfer fails with (docs/design.md §3.6). */
export type TransferErrorCode = Extract<ErrorCode, `LEASEHOLD_E_TRANSFER_${string}`>;

/** A transfer was refused or failed: the code says why; the sidecar answers 409. */
export class TransferError extends LeaseholdError {
  declare readonly code: TransferErrorCode;
  /** The candidate the transfer named. */
  readonly target: string;

  constructor(code: TransferErrorCode, target: string, message: string) {
    super(code, message);
    this.target = target;
  }
}

/**
 * Whether an error thrown by a store call is worth retrying. Errors that do not come from
 * leasehold (a driver bug, a TypeError) count as transient: the elector must never die of
 * them, and the deadline rule keeps leadership safe while it retries.
 */
export function isTransient(error: unknown): boolean {
  return error instanceof LeaseholdError ? error.transient : true;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
