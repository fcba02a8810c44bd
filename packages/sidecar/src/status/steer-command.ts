import { readFileSync } from 'node:fs';
import { EXIT_CONFIGURATION, EXIT_ENVIRONMENT, StartupFailure } from '../startup-failure.js';

/**
 * `leasehold transfer <id>`, `leasehold drain [--force]`, `leasehold undrain`: POST the
 * admin route to the local sidecar (found as `leasehold status` finds it) with the admin
 * token, and print one line. Exit 0 when it happened, 1 with the reason and the registry
 * code when the sidecar refused or could not (docs/operations.md); 2 for a setting to fix.
 */

const ASK_TIMEOUT_MS = 60_000;
/** `--all-elections`: how many elections are steered at a time. */
const ALL_AT_ONCE = 8;

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
    throw noAnswer(url, error);
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.ok) return { exitCode: 0, line: doneLine(action, answer) };
  const code = typeof answer.code === 'string' ? answer.code : `HTTP ${response.status}`;
  const message = typeof answer.message === 'string' ? answer.message : response.statusText;
  return { exitCode: 1, line: `${message} (${code})` };
}

/** The sidecar could not be asked at all (nothing listens there, or it did not answer). */
function noAnswer(url: URL, error: unknown): StartupFailure {
  return new StartupFailure(
    `no answer from the sidecar at ${url.origin} (${(error as Error).message}); is it running there?`,
    EXIT_ENVIRONMENT,
  );
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

/**
 * `drain --all-elections`, `undrain --all-elections`: the action on every election the
 * sidecar serves (GET /v1/elections), a few at a time. One line per election that moved or
 * failed, then a summary; exit 1 when any failed. A sidecar of a thousand elections prints
 * a line for those it led, not for each.
 */
export async function steerAll(url: URL, token: string, action: SteerAction): Promise<SteerResult> {
  const names = await electionNames(url);
  const results: { name: string; result: SteerResult }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next] as string;
      next += 1;
      results.push({ name, result: await steer(url, token, action, name) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(ALL_AT_ONCE, names.length) }, worker));
  results.sort((x, y) => names.indexOf(x.name) - names.indexOf(y.name));
  return allResult(action, results);
}

async function electionNames(url: URL): Promise<string[]> {
  let answer: { elections?: { name?: unknown }[] };
  try {
    const response = await fetch(new URL('/v1/elections', url), {
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    answer = (await response.json()) as typeof answer;
  } catch (error) {
    throw noAnswer(url, error);
  }
  return (answer.elections ?? []).flatMap((e) => (typeof e.name === 'string' ? [e.name] : []));
}

function allResult(
  action: SteerAction,
  results: readonly { name: string; result: SteerResult }[],
): SteerResult {
  const failed = results.filter(({ result }) => result.exitCode !== 0);
  const moved = results.filter(
    ({ result }) => result.exitCode === 0 && /handed over|resigned/.test(result.line),
  );
  const lines = [...moved, ...failed].map(({ name, result }) => `${name}: ${result.line}`);
  const what = action.kind === 'undrain' ? 'undrained' : 'drained';
  const handedOver = action.kind === 'drain' ? `, ${moved.length} handed over or resigned` : '';
  lines.push(
    `${what} ${results.length - failed.length} of ${results.length} elections${handedOver}` +
      (failed.length === 0 ? '' : `, ${failed.length} refused (above)`),
  );
  return { exitCode: failed.length === 0 ? 0 : 1, line: lines.join('\n') };
}
