// What the bench scripts record about the machine beside their numbers.
import { readFileSync } from 'node:fs';

/** The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them. */
export const loadAverage = () =>
  readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
