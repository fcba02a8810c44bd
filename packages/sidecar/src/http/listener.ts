import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeError } from './errors.js';
import { answerOnFastPath } from './fast-path.js';
import type { FastifyRoutes } from './fastify-app.js';
import { isLoopbackAddress, isLoopbackHostHeader } from './host-check.js';
import { limitConnections, type ListenerLimits } from './limits.js';
import type { SidecarState } from './sidecar-state.js';

/** The sidecar's HTTP server, listening. */
export interface SidecarListener {
  /** `http://host:port` (`https://` with TLS) of the first address bound. */
  readonly url: string;
  /** Stop accepting, end every connection (long-polls and event streams too). */
  close(): Promise<void>;
}

/** The listener's own certificate and key (PEM), to serve HTTPS. */
export interface ListenerTls {
  readonly cert: string;
  readonly key: string;
}

/** Where to listen: the command's --host and --port (0: any free port), and its TLS. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly tls?: ListenerTls | undefined;
  /**
   * Load the Fastify routes before listen() resolves instead of on the first request that
   * needs them: loading blocks the event loop (0.4 to 0.8 s measured on a loaded host), which
   * must not happen while the elector is acquiring or renewing. The sidecar asks for it when
   * admin routes can be called (an admin token), and otherwise keeps the memory.
   */
  readonly routesAtStart?: boolean;
}

/**
 * Listen on `host:port` and serve the HTTP API from `state`: the one way the API is served,
 * by the command and by the tests alike. The fast routes (fast-path.ts) answer
 * from node:http; the first request for any other route loads the Fastify app (the
 * framework, route schemas, OpenAPI, event streams: most of an idle sidecar's memory and
 * start-up time), which then serves that request and every later one the fast path leaves.
 * A sidecar that apps and probes only ask who leads never loads it, unless `routesAtStart`
 * says to load it before resolving. Before either, a
 * loopback bind refuses requests for other host names (http/host-check.ts), and the
 * connection limits apply to every server bound (http/limits.ts).
 */
export async function listen(
  state: SidecarState,
  options: ListenAddress,
): Promise<SidecarListener> {
  const { logger, limits } = state;
  const checkHost = isLoopbackAddress(options.host);
  const servers: Server[] = [];
  let routes: Promise<FastifyRoutes> | null = null;
  const fastifyRoutes = (server: Server): Promise<FastifyRoutes> =>
    (routes ??= import('./fastify-app.js').then((module) => module.loadFastifyApp(state, server)));
  const onRequest = (server: Server, request: IncomingMessage, response: ServerResponse) => {
    const toFastify = (): void => {
      fastifyRoutes(server).then(
        (loaded) => loaded.handle(request, response),
        (error: unknown) => {
          logger.error({ err: error }, 'the HTTP routes failed to load');
          if (!response.headersSent) response.writeHead(500).end();
        },
      );
    };
    if (checkHost && !isLoopbackHostHeader(request.headers.host)) {
      writeError(
        response,
        421,
        'LEASEHOLD_E_HOST_NOT_ALLOWED',
        'this sidecar listens on loopback and answers only requests for localhost, 127.0.0.1 or [::1]',
      );
      return;
    }
    if (!answerOnFastPath(state, request, response, toFastify)) toFastify();
  };
  const bind = (host: string, port: number): Promise<Server> =>
    bindServer(host, port, onRequest, limits, options.tls);

  const first = await bind(options.host, options.port);
  servers.push(first);
  if (options.routesAtStart === true) await fastifyRoutes(first).catch(closeOnFailure(servers));
  const address = first.address() as AddressInfo;
  // As Fastify does: "localhost" means the loopback address of each family.
  if (options.host === 'localhost') {
    const other = address.family === 'IPv6' ? '127.0.0.1' : '::1';
    servers.push(
      ...(await bind(other, address.port).then(
        (s) => [s],
        () => [],
      )),
    );
  }

  let closing: Promise<void> | null = null;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      (closing ??= (async () => {
        // Fastify's own close hooks first (event streams, long-polls), then the sockets.
        if (routes !== null) await routes.then((loaded) => loaded.close()).catch(() => {});
        await Promise.all(servers.map(closeServer));
      })()),
  };
}

function bindServer(
  host: string,
  port: number,
  onRequest: (server: Server, request: IncomingMessage, response: ServerResponse) => void,
  limits: ListenerLimits,
  tls: ListenerTls | undefined,
): Promise<Server> {
  const server =
    tls === undefined
      ? createServer()
      : createTlsServer({
          cert: tls.cert,
          key: tls.key,
          handshakeTimeout: limits.headersTimeoutMs,
        });
  limitConnections(server, limits, tls === undefined ? 'connection' : 'secureConnection');
  server.on('request', (request, response) => onRequest(server, request, response));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Close what was bound and pass the error on: listen() failed, nothing is left open. */
function closeOnFailure(servers: readonly Server[]): (error: unknown) => Promise<never> {
  return async (error) => {
    await Promise.all(servers.map(closeServer));
    throw error;
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
