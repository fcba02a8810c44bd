import { readFileSync } from 'node:fs';
import { EXIT_CONFIGURATION, EXIT_ENVIRONMENT, StartupFailure } from '../startup-failure.js';

/**
 * `leasehold transfer <id>`, `leasehold drain [--force]`, `leasehold undrain`: POST the
 * admin route to the local sidecar (found as `leasehold status` finds it) with the admin
 * token, and print one line. Exit 0 when it happened, 1 with the reason and the registry
 * code when the sidecar refused or could not (docs/operations.md); 2 for a setting to fix.
 */

const ASK_TIMEOUT_MS = 60_000;

export interface TokenInput {
  readonly flags: { readonly adminToken?: string; readonly adminTokenFile?: string };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The admin token: flag, flag's file, variable, variable's file, as the sidecar reads it. */
export function adminTokenOf({ flags, env }: TokenInput): string {
  if (flags.adminToken !== undefined) return flags.adminToken;
  if (flags.adminTokenFile !== undefined)
    return tokenFile(flags.adminTokenFile, '--admin-token-file');
  if (env.LEASEHOLD_ADMIN_TOKEN !== undefined && env.LEASEHOLD_ADMIN_TOKEN !== '') {
    return env.LEASEHOLD_ADMIN_TOKEN;
  }
  const file = env.LEASEHOLD_ADMIN_TOKEN_FILE;
  if (file !== undefined && file !== '') return tokenFile(file, 'LEASEHOLD_ADMIN_TOKEN_FILE');
  throw new StartupFailure(
    'no admin token: give the sidecar\u2019s with --admin-token-file, LEASEHOLD_ADMIN_TOKEN_FILE or LEASEHOLD_ADMIN_TOKEN',
    EXIT_CONFIGURATION,
  );
}

function tokenFile(path: string, givenAs: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new StartupFailure(
      `invalid admin-token-file (${givenAs}): ${JSON.stringify(path)}; a readable file holding the token (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      EXIT_CONFIGURATION,
    );
  }
}

export type SteerAction =
  | { readonly kind: 'transfer'; readonly to: string }
  | { readonly kind: 'drain'; readonly force: boolean }
  | { readonly kind: 'undrain' };

/** What to print and the exit code. */
export interface SteerResult {
  readonly exitCode: 0 | 1;
  readonly line: string;
}

/**
 * POST the action's route and say what happened; throws when the sidecar cannot be asked.
 * `election`: one of a sidecar of several (its route under /v1/elections/{name}); by
 * default the first, whose routes are unprefixed.
 */
export async function steer(
  url: URL,
  token: string,
  action: SteerAction,
  election?: string,
): Promise<SteerResult> {
  const path =
    election === undefined
      ? `/v1/${action.kind}`
      : `/v1/elections/${encodeURIComponent(election)}/${action.kind}`;
  const body =
    action.kind === 'transfer'
      ? { to: action.to }
      : action.kind === 'drain'
        ? { force: action.force }
        : {};
  let response: Response;
  try {
    response = await fetch(new URL(path, url), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
  } catch (error) {
    throw new StartupFailure(
      `no answer from the sidecar at ${url.origin} (${(error as Error).message}); is it running there?`,
      EXIT_ENVIRONMENT,
    );
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.ok) return { exitCode: 0, line: doneLine(action, answer) };
  const code = typeof answer.code === 'string' ? answer.code : `HTTP ${response.status}`;
  const message = typeof answer.message === 'string' ? answer.message : response.statusText;
  return { exitCode: 1, line: `${message} (${code})` };
}

function doneLine(action: SteerAction, answer: Record<string, unknown>): string {
  if (action.kind === 'undrain') return 'undrained: this candidate campaigns again';
  if (action.kind === 'transfer') {
    return `leadership transferred from ${String(answer.from)} to ${String(answer.to)}${termText(answer)}`;
  }
  const transfer = answer.transfer as Record<string, unknown> | null | undefined;
  if (transfer !== null && transfer !== undefined) {
    return `drained: leadership handed over to ${String(transfer.to)}${termText(transfer)}`;
  }
  if (answer.resigned === true)
    return 'drained: resigned (no other candidate was eligible; --force)';
  return 'drained: this candidate did not lead and will not campaign';
}

function termText(answer: Record<string, unknown>): string {
  return typeof answer.term === 'number' ? ` (term ${answer.term})` : '';
}
