// @leasehold/core/testing: test tools with no test framework attached, for any runner.
// The vitest conformance suite is a package of its own: @leasehold/conformance.
export * from './memory-store.js';
export * from './manual-clock.js';
export * from './freezable-clock.js';
export * from './random.js';
