export * from './clock.js';
export * from './errors.js';
export * from './store.js';
export * from './timing.js';
export * from './elector.js';
