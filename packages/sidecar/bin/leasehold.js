#!/usr/bin/env node
// The `leasehold` command (packages/sidecar/src/cli.ts, built to dist/).
import { setFlagsFromString } from 'node:v8';

// Start-up (loading modules, compiling route schemas) keeps most of what it allocates, and
// V8 answers that by doubling its young generation up to 16 MB, then keeps it for a minute
// or more after the sidecar has gone idle: 84 MB resident instead of 69 MB. Not letting it
// grow while starting, and restoring the default growth once the sidecar listens, keeps an
// idle sidecar small without changing how it behaves under load. V8 reads this flag each
// time it considers growing, so setting it at run time takes effect.
setFlagsFromString('--semi-space-growth-factor=1');
const { main } = await import('../dist/cli.js');
await main(process.argv);
setFlagsFromString('--semi-space-growth-factor=2');
