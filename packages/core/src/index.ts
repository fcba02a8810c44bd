export * from './clock.js';
export * from './errors.js';
export * from './store.js';
export * from './timing.js';
export * from './elector.js';
export type { TermHistorySnapshot, TermRegressionEvent } from './term-history.js';
