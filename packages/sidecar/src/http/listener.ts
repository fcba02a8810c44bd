import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LeadershipHistory } from '../history.js';
import type { buildRequestHandler, ServerOptions } from '../server.js';
import { answerHotRoute } from './hot-routes.js';

/** The sidecar's HTTP server, listening. */
export interface SidecarListener {
  /** `http://host:port` of the first address bound. */
  readonly url: string;
  /** Stop accepting, end every connection (long-polls and event streams too). */
  close(): Promise<void>;
}

type FastifyRoutes = Awaited<ReturnType<typeof buildRequestHandler>>;

/**
 * Listen on `host:port` and serve the HTTP API. The hot routes (http/hot-routes.ts) answer
 * from node:http; the first request for any other route loads the Fastify app (the
 * framework, route schemas, OpenAPI, event streams: most of an idle sidecar's memory and
 * start-up time), which then serves that request and every later one the hot routes leave.
 * A sidecar that apps and probes only ask who leads never loads it.
 */
export async function listen(
  options: ServerOptions & {
    readonly history: LeadershipHistory;
    readonly host: string;
    readonly port: number;
  },
): Promise<SidecarListener> {
  const { elector, metrics, logger } = options;
  const servers: Server[] = [];
  let routes: Promise<FastifyRoutes> | null = null;
  const fastifyRoutes = (server: Server): Promise<FastifyRoutes> =>
    (routes ??= import('../server.js').then((module) =>
      module.buildRequestHandler(options, server),
    ));
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
    if (!answerHotRoute(elector, metrics, request, response, toFastify)) toFastify();
  };

  const first = await bind(options.host, options.port, onRequest);
  servers.push(first);
  const address = first.address() as AddressInfo;
  // As Fastify does: "localhost" means the loopback address of each family.
  if (options.host === 'localhost') {
    const other = address.family === 'IPv6' ? '127.0.0.1' : '::1';
    servers.push(
      ...(await bind(other, address.port, onRequest).then(
        (s) => [s],
        () => [],
      )),
    );
  }

  let closing: Promise<void> | null = null;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      (closing ??= (async () => {
        // Fastify's own close hooks first (event streams, long-polls), then the sockets.
        if (routes !== null) await routes.then((loaded) => loaded.close()).catch(() => {});
        await Promise.all(servers.map(closeServer));
      })()),
  };
}

function bind(
  host: string,
  port: number,
  onRequest: (server: Server, request: IncomingMessage, response: ServerResponse) => void,
): Promise<Server> {
  const server = createServer();
  server.on('request', (request, response) => onRequest(server, request, response));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
