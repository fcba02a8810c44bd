import type { Logger } from 'pino';
import type { SidecarConfig } from './config/fields.js';

/**
 * One signal delivered twice within this long is one request to stop. `npm start` forwards
 * the signals it gets to the sidecar, so Ctrl-C (which the terminal sends to npm and to the
 * sidecar) or a SIGTERM to the whole process group arrives twice within milliseconds.
 */
const DUPLICATE_SIGNAL_MS = 500;

/**
 * SIGTERM / SIGINT: shut down cleanly and exit 0, or 1 when that outlasts the grace period;
 * a second signal (not the same one delivered twice) exits at once.
 */
export function onShutdownSignals(
  config: SidecarConfig,
  logger: Logger,
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
): void {
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first !== null) {
      if (signal === first.signal && performance.now() - first.at < DUPLICATE_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    first = { signal, at: performance.now() };
    const grace = setTimeout(() => {
      logger.error(
        { graceMs: config.shutdownGraceMs },
        'shutdown took longer than the grace period; exiting',
      );
      process.exit(1);
    }, config.shutdownGraceMs);
    grace.unref();
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
