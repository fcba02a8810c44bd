import { EXIT_CONFIGURATION, EXIT_ENVIRONMENT, StartupFailure } from '../startup-failure.js';

/**
 * `leasehold status`: ask a running sidecar (`/v1/leader`, `/v1/members`, `/v1/history`,
 * `/v1/elections`) and print a summary for a person: of its first election, or of the one
 * `--election` names, and a line for each election when it has several. The address must be an http(s) URL (exit 2 otherwise, like
 * any value to change); a sidecar that does not answer is exit 1.
 */

const ASK_TIMEOUT_MS = 5_000;
/** The most recent changes `status` prints. */
const HISTORY_LINES = 5;
/** The elections `status` lists at most, one line each. */
const ELECTION_LINES = 50;

interface LeaderAnswer {
  readonly election: string;
  readonly backend: string;
  readonly leader: string | null;
  readonly term: number | null;
  readonly since: string | null;
  readonly self: string;
  readonly isLeader: boolean;
  readonly leaseRemainingMs: number;
  readonly leadsFrom?: string | null;
  readonly store: { readonly healthy: boolean; readonly error: { message: string } | null };
  /** Absent from a sidecar older than issue 26. */
  readonly steering?: Steering;
}

interface Steering {
  readonly drained?: boolean;
  readonly health?: string;
  readonly version?: string | null;
  readonly transferringTo?: string | null;
}

interface Member extends Steering {
  readonly id: string;
  readonly priority: number;
}

interface Change {
  readonly at: string;
  readonly kind: string;
  readonly leader?: string | null;
  readonly term?: number | null;
  readonly reason?: string;
}

/** One line of GET /v1/elections. */
interface ElectionLine {
  readonly name: string;
  readonly isLeader: boolean;
  readonly leader: string | null;
  readonly term: number | null;
}

/** GET /v1/command: `command` is null from a plain sidecar. */
interface CommandAnswer {
  readonly command: string | null;
  readonly running: boolean;
  readonly restarts: number;
  readonly backoffMs: number;
  readonly backoffUntil: string | null;
}

/** The sidecar's address as given: `--url` or LEASEHOLD_URL, checked before it is asked. */
export function sidecarUrl(raw: string, givenAs: string): URL {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // Said below.
  }
  if (url === null || !/^https?:$/.test(url.protocol)) {
    throw new StartupFailure(
      `invalid url (${givenAs}): ${JSON.stringify(raw)}; the address of a running sidecar, such as http://127.0.0.1:4040`,
      EXIT_CONFIGURATION,
    );
  }
  return url;
}

export async function statusReport(url: URL, election?: string): Promise<string> {
  // The first election's routes are unprefixed; any election's are under its name.
  const of = (path: string) =>
    election === undefined
      ? `/v1/${path}`
      : `/v1/elections/${encodeURIComponent(election)}/${path}`;
  let leader: LeaderAnswer;
  try {
    leader = await ask<LeaderAnswer>(url, of('leader'));
  } catch (error) {
    if (election !== undefined && /answered 40[04]$/.test((error as Error).message)) {
      throw new StartupFailure(
        `invalid election (flag --election): ${JSON.stringify(election)}; the name of an election the sidecar at ${url.href.replace(/\/$/, '')} takes part in`,
        EXIT_CONFIGURATION,
      );
    }
    throw new StartupFailure(
      `no sidecar answered at ${url.href.replace(/\/$/, '')} (${(error as Error).message}); start one, or give --port / LEASEHOLD_PORT or --url / LEASEHOLD_URL`,
      EXIT_ENVIRONMENT,
    );
  }
  // Best effort: an older sidecar, or a store that cannot list members, still gets a summary.
  const [command, members, history, elections] = await Promise.all([
    ask<CommandAnswer>(url, of('command')).then(
      (answer) => answer,
      () => null,
    ),
    ask<{ members: Member[] }>(url, of('members')).then(
      (answer) => answer.members,
      () => null,
    ),
    ask<{ changes: Change[] }>(url, of('history')).then(
      (answer) => answer.changes,
      () => null,
    ),
    // Absent from a sidecar older than issue 27: one election.
    ask<{ elections: ElectionLine[] }>(url, '/v1/elections').then(
      (answer) => answer.elections,
      () => [],
    ),
  ]);
  const lines = [
    ...electionLines(elections, leader.election),
    ...leaderLines(leader),
    ...commandLines(command),
    ...memberLines(members, leader.leader),
    ...historyLines(history),
  ];
  return `${lines.join('\n')}\n`;
}

async function ask<T>(base: URL, path: string): Promise<T> {
  const response = await fetch(new URL(path, base), {
    signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return (await response.json()) as T;
}

function leaderLines(body: LeaderAnswer): string[] {
  const self = body.isLeader ? '  ← this instance' : '';
  return [
    `election   ${body.election} (${body.backend})`,
    `leader     ${body.leader ?? '(none known)'}${self}`,
    `term       ${body.term === null ? '-' : String(body.term)}`,
    `since      ${body.since ?? '-'}`,
    `this       ${body.self}, ${thisInstance(body)}${steeringText(body.steering)}`,
    `store      ${body.store.healthy ? 'healthy' : `UNAVAILABLE: ${body.store.error?.message ?? ''}`}`,
  ];
}

function thisInstance(body: LeaderAnswer): string {
  if (body.isLeader) return `leads for ${body.leaseRemainingMs} ms more unless renewed`;
  if (body.leadsFrom !== undefined && body.leadsFrom !== null) {
    return `holds the lock, held off until ${body.leadsFrom} (an earlier holder's lease may still run)`;
  }
  return 'follower';
}

/** Drained, app health and version, a transfer under way: only what is not the default. */
function steeringText(steering: Steering | undefined): string {
  if (steering === undefined) return '';
  const parts = [
    steering.drained === true ? 'drained' : '',
    steering.health !== undefined && steering.health !== 'unknown' ? `app ${steering.health}` : '',
    steering.version != null ? `version ${steering.version}` : '',
    steering.transferringTo != null ? `transferring to ${steering.transferringTo}` : '',
  ].filter((part) => part !== '');
  return parts.length === 0 ? '' : `; ${parts.join(', ')}`;
}

/** The leader is marked from the same answer as the `leader` line, not the members' flags. */
function memberLines(members: readonly Member[] | null, leader: string | null): string[] {
  if (members === null) return ['members    (not available)'];
  if (members.length === 0) return ['members    (none live)'];
  return members.map(
    (member, index) =>
      `${index === 0 ? 'members   ' : '          '} ${member.id} (priority ${member.priority}${member.id === leader ? ', leader' : ''}${steeringText(member)})`,
  );
}

function historyLines(changes: readonly Change[] | null): string[] {
  if (changes === null) return ['history    (not available)'];
  if (changes.length === 0) return ['history    (no change seen yet)'];
  return changes
    .slice(0, HISTORY_LINES)
    .map(
      (change, index) =>
        `${index === 0 ? 'history   ' : '          '} ${change.at}  ${describeChange(change)}`,
    );
}

function describeChange(change: Change): string {
  const term = change.term === null || change.term === undefined ? '' : ` term ${change.term}`;
  if (change.kind === 'deposed')
    return `this instance stopped leading${term} (${change.reason ?? '?'})`;
  return change.leader === null || change.leader === undefined
    ? 'no leader known'
    : `leader ${change.leader}${term}`;
}

/** Every election of a sidecar of several, the one summarised below marked; none for one. */
function electionLines(elections: readonly ElectionLine[], shown: string): string[] {
  if (elections.length < 2) return [];
  const width = Math.max(...elections.map((e) => e.name.length));
  const lines = elections.slice(0, ELECTION_LINES).map((e, index) => {
    const leader = e.leader === null ? '(no leader known)' : `${e.leader} (term ${e.term ?? '-'})`;
    const marks = `${e.isLeader ? '  ← this instance' : ''}${e.name === shown ? '  [below]' : ''}`;
    return `${index === 0 ? 'elections ' : '          '} ${e.name.padEnd(width)}  ${leader}${marks}`;
  });
  const more = elections.length - ELECTION_LINES;
  if (more > 0) lines.push(`           … and ${more} more (GET /v1/elections lists them all)`);
  return [...lines, ''];
}

/** The command of `leasehold run`, when there is one. */
function commandLines(command: CommandAnswer | null): string[] {
  if (command?.command == null) return [];
  const waitMs = command.backoffUntil === null ? 0 : Date.parse(command.backoffUntil) - Date.now();
  const state = command.running
    ? 'running here'
    : waitMs > 0
      ? `backing off: competes again in ${(waitMs / 1000).toFixed(1)} s (wait ${command.backoffMs / 1000} s)`
      : 'not running here';
  return [`command    ${command.command}: ${state}; ended by itself ${command.restarts} times`];
}
