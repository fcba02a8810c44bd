#!/usr/bin/env node
// The `leasehold` command. The HTTP sidecar itself lands with issue 7; until then this
// entry point answers --help / --version and says plainly that serving is not built yet.
import { version } from '../dist/index.js';

const args = process.argv.slice(2);
const help = `leasehold ${version} — leader election sidecar

Usage: leasehold [--help] [--version]

The HTTP sidecar (serve, status, config, run) is not built yet. See README.md.`;

if (args.includes('--version') || args.includes('-v')) {
  console.log(version);
} else if (args.includes('--help') || args.includes('-h')) {
  console.log(help);
} else {
  console.error(
    `leasehold ${version}: the sidecar is not built yet (the elector core is). See README.md.`,
  );
  process.exitCode = 0;
}
