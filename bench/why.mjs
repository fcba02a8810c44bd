// What RESULTS.md says about a missed target (keyed `target:backend`, or `target` for every
// backend), and the notes at its end. Written from the measurements; report.mjs picks them.
export const explanations = {
  notes: ['(to be written from the measurements)'],
};
