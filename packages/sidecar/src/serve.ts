import { createStore, maskUrl } from '@leasehold/adapters';
import { Elector, LeaseholdError, isTransient, type LeaseStore } from '@leasehold/core';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import pino, { type Logger } from 'pino';
import type { SidecarConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { listen, type SidecarListener } from './http/listener.js';

export function createLogger(config: Pick<SidecarConfig, 'logLevel'>): Logger {
  const options = { level: config.logLevel, base: { service: 'leasehold' } };
  // Pretty only for a person at a terminal; machines get one JSON object per line.
  return process.stdout.isTTY
    ? pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } })
    : pino(options);
}

export interface RunningSidecar {
  readonly url: string;
  readonly elector: Elector;
  /** The sidecar's logger, bound to its election and id. */
  readonly logger: Logger;
  /** Stop accepting, stop reporting leadership and release, close the store. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Start the sidecar. Throws a fatal LeaseholdError (exit 2) for bad configuration or store
 * credentials; a store that is merely down does not stop start-up.
 */
export async function serve(config: SidecarConfig, logger: Logger): Promise<RunningSidecar> {
  if (config.storeIsDefault) {
    logger.warn(
      { store: config.store },
      'no store configured: using the embedded SQLite file, which elects only among processes on THIS host. ' +
        'For several hosts set --store / LEASEHOLD_STORE to redis://…, postgres://…, etcd://… or zk://…',
    );
  }
  const tls = {
    ...(config.storeCa === undefined ? {} : { ca: readPem('store-ca', config.storeCa) }),
    ...(config.storeCert === undefined ? {} : { cert: readPem('store-cert', config.storeCert) }),
    ...(config.storeKey === undefined ? {} : { key: readPem('store-key', config.storeKey) }),
  };
  const store: LeaseStore = await createStore(config.store, {
    namespace: config.namespace,
    // ZooKeeper fixes the session timeout (its TTL) when it connects.
    ttlMs: config.ttlMs,
    ...(Object.keys(tls).length === 0 ? {} : { tls }),
  });
  let elector: Elector;
  try {
    elector = new Elector({
      store,
      election: config.election,
      id: config.id,
      ttlMs: config.ttlMs,
      ...(config.renewIntervalMs === undefined ? {} : { renewIntervalMs: config.renewIntervalMs }),
      retryIntervalMs: config.retryIntervalMs,
      priority: config.priority,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const log = logger.child({ election: config.election, id: config.id });
  elector.on('elected', ({ term }) =>
    log.info({ event: 'elected', term }, `elected leader of "${config.election}" (term ${term})`),
  );
  elector.on('deposed', ({ term, reason }) =>
    log.info({ event: 'deposed', term, reason }, `no longer leader (term ${term}): ${reason}`),
  );
  elector.on('leader', (leader) => log.debug({ event: 'leader', leader }, 'leader observed'));
  elector.on('term-regression', ({ previous, observed, highest }) =>
    log.error(
      { event: 'term-regression', previous, observed, highest },
      `the term of "${config.election}" went back from ${previous} to ${observed}: the store was reset ` +
        '(data wiped, schema dropped, namespace or SQLite file changed). Apps that fence writes with the ' +
        `term will refuse the new leader's writes until terms pass ${highest}`,
    ),
  );
  elector.on('store-health', (health) => {
    if (health.healthy) log.info({ event: 'store-health', healthy: true }, 'store reachable again');
    else
      log.warn(
        { event: 'store-health', healthy: false, error: health.error },
        `store unavailable: ${health.error?.message ?? ''}`,
      );
  });

  const metrics = createMetrics(elector);
  if (!isLoopback(config.host)) {
    log.warn(
      { host: config.host },
      `binding ${config.host}, not loopback: anyone who can reach this port can read leadership` +
        (config.adminToken === undefined ? '' : ' and, with the admin token, resign it'),
    );
  }
  elector.start();
  let listener: SidecarListener;
  try {
    listener = await listen({
      elector,
      logger: log,
      metrics,
      adminToken: config.adminToken,
      host: config.host,
      port: config.port,
    });
  } catch (error) {
    await elector.stop();
    await store.close();
    throw error;
  }
  log.info(
    {
      url: listener.url,
      store: maskUrl(config.store),
      backend: store.backend,
      ttlMs: elector.timing.ttlMs,
    },
    `leasehold listening on ${listener.url}, election "${config.election}" on ${store.backend}`,
  );

  let stopping: Promise<void> | null = null;
  return {
    url: listener.url,
    elector,
    logger: log,
    shutdown(reason: string) {
      stopping ??= (async () => {
        log.info({ reason }, 'shutting down: releasing leadership');
        // Leadership first: a follower should take over while we close connections.
        await elector.stop();
        await listener.close();
        await store.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

function readPem(field: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new LeaseholdError(
      'LEASEHOLD_E_CONFIG',
      `invalid ${field}: ${JSON.stringify(path)}; a readable PEM file (${(error as Error).message})`,
    );
  }
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** Whether an error at start-up should end the process with exit code 2. */
export function isFatalStartupError(error: unknown): boolean {
  return error instanceof LeaseholdError && !isTransient(error);
}
