export * from './memory-store.js';
export * from './conformance.js';
export * from './random.js';
export * from './freezable-clock.js';
