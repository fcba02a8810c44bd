/**
 * A release's wake-up message (Redis PUBLISH, PostgreSQL NOTIFY): the election, then the
 * ids of the first in line, one per line (ids have no whitespace). Only their watchers wake;
 * a message without ids (an older releaser, a store without member records) wakes everyone.
 */
export function parseWakeUp(message: string): { election: string; firstInLine: string[] } {
  const [election = '', ...firstInLine] = message.split('\n');
  return { election, firstInLine };
}

/** Whether a watcher wakes for a release that named `firstInLine`. */
export function wakes(firstInLine: readonly string[], candidate: string | undefined): boolean {
  return firstInLine.length === 0 || candidate === undefined || firstInLine.includes(candidate);
}
