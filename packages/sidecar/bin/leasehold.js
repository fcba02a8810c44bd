#!/usr/bin/env node
// The `leasehold` command (packages/sidecar/src/cli.ts, built to dist/).
import { main } from '../dist/cli.js';

await main(process.argv);
