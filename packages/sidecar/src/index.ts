/** The sidecar package's version, read by the CLI. */
export { version } from './version.js';
