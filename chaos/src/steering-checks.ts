import type { Answer } from './history.js';

/**
 * What the steering scenarios (transfer, drain) check beyond the checker's overlaps and
 * terms. Pure: answers in, a verdict out. An answer counts for a stretch when the whole
 * window it was computed in (sent to received) lies inside the stretch.
 */

export interface StretchVerdict {
  readonly ok: boolean;
  readonly detail: string;
}

/** The "leader" answers computed wholly inside [from, to]. */
function leadingWithin(answers: readonly Answer[], from: number, to: number): Answer[] {
  return answers.filter(
    (a) => a.error === null && a.isLeader && a.sentAt >= from && a.receivedAt <= to,
  );
}

function at(answer: Answer): string {
  return `${answer.sentAt.toFixed(1)} ms`;
}

/** `candidate` reported leadership at no instant of [from, to] (drained, or handed over). */
export function neverLed(
  answers: readonly Answer[],
  candidate: string,
  from: number,
  to: number,
): StretchVerdict {
  const led = leadingWithin(answers, from, to).filter((a) => a.candidate === candidate);
  const first = led[0];
  return first === undefined
    ? { ok: true, detail: `${candidate} never reported leadership` }
    : {
        ok: false,
        detail: `${first.sidecar} reported leadership (term ${first.term ?? '?'}) at ${at(first)}, ${led.length} answer(s) in all`,
      };
}

/**
 * In [from, to] only `candidate` reported leadership, and it did (the named one leads), under
 * a term above `aboveTerm` (a transfer's claim is a new acquisition: terms rise).
 */
export function onlyLeader(
  answers: readonly Answer[],
  candidate: string,
  from: number,
  to: number,
  aboveTerm: number | null,
): StretchVerdict {
  const led = leadingWithin(answers, from, to);
  const other = led.find((a) => a.candidate !== candidate);
  if (other !== undefined) {
    return { ok: false, detail: `${other.sidecar} reported leadership at ${at(other)}` };
  }
  const own = led[0];
  if (own === undefined) return { ok: false, detail: `${candidate} never reported leadership` };
  const low = led.find((a) => aboveTerm !== null && (a.term ?? 0) <= aboveTerm);
  if (low !== undefined) {
    return {
      ok: false,
      detail: `${low.sidecar} led under term ${low.term ?? '?'}, not above the old leader's ${aboveTerm ?? '?'}`,
    };
  }
  return { ok: true, detail: `${candidate} led under term ${own.term ?? '?'}` };
}

/** The highest term `candidate` reported leadership under, up to `until`. */
export function lastTermLed(
  answers: readonly Answer[],
  candidate: string,
  until: number,
): number | null {
  const terms = answers
    .filter((a) => a.error === null && a.isLeader && a.candidate === candidate)
    .filter((a) => a.receivedAt <= until && a.term !== null)
    .map((a) => a.term ?? 0);
  return terms.length === 0 ? null : Math.max(...terms);
}
