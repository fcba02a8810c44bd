import { connect, type Socket } from 'node:net';

/**
 * A client that sends a sidecar what no app should: oversized, malformed and unknown input
 * to every route, requests that stop half-way, a thousand connections that say nothing and
 * more listeners than the sidecar allows. `attack` returns what came back; `hold` opens the
 * slow, idle and listening connections and keeps them until the returned `close`.
 */

/** Every route of the sidecar's HTTP API, with the method it serves. */
export const ROUTES: readonly (readonly [method: string, path: string])[] = [
  ['GET', '/'],
  ['GET', '/v1/leader'],
  ['GET', '/v1/is-leader'],
  ['GET', '/v1/events'],
  ['GET', '/v1/members'],
  ['GET', '/v1/history'],
  ['POST', '/v1/resign'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/v1/openapi.json'],
];

/** One bad request, as raw bytes on a connection of its own. */
interface BadRequest {
  readonly kind: string;
  readonly bytes: string;
}

const BIG = 'a'.repeat(100_000);

function badRequests(method: string, path: string, host: string): BadRequest[] {
  const head = (line: string, headers: string[] = []): string =>
    [line, `Host: ${host}`, 'Connection: close', ...headers, '', ''].join('\r\n');
  const body = '{"not json';
  return [
    {
      kind: 'unknown parameters',
      bytes: head(`${method} ${path}?bogus=1&wait=forever&term=x&__proto__=1 HTTP/1.1`),
    },
    { kind: 'oversized URL', bytes: head(`${method} ${path}?q=${BIG} HTTP/1.1`) },
    { kind: 'oversized header', bytes: head(`${method} ${path} HTTP/1.1`, [`X-Big: ${BIG}`]) },
    {
      kind: 'oversized body',
      bytes:
        head(`${method} ${path} HTTP/1.1`, [
          'Content-Type: application/json',
          `Content-Length: ${BIG.length * 30}`,
        ]) + BIG.repeat(30),
    },
    {
      kind: 'malformed body',
      bytes:
        head(`${method} ${path} HTTP/1.1`, [
          'Content-Type: application/json',
          'Authorization: Bearer nope',
          `Content-Length: ${body.length}`,
        ]) + body,
    },
    {
      kind: 'malformed header',
      bytes: head(`${method} ${path} HTTP/1.1`, ['Bad Header Without Colon']),
    },
    {
      kind: 'wrong method',
      bytes: head(`${method === 'GET' ? 'DELETE' : 'GET'} ${path} HTTP/1.1`),
    },
    { kind: 'bad escape', bytes: head(`${method} ${path}/%ZZ%00/../.. HTTP/1.1`) },
    { kind: 'garbage', bytes: `\u0000\u00ff${method} \r\n\r\n` },
  ];
}

/** Extra bad input of the leadership route: long-polls that make no sense. */
function badLongPolls(host: string): BadRequest[] {
  const get = (query: string): BadRequest => ({
    kind: 'bad long-poll',
    bytes: `GET /v1/leader?${query} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  });
  return [get('wait=99999h'), get('wait=-1s'), get('wait=1s&term=1e400'), get('wait=NaN&term=-1')];
}

export interface AttackReport {
  /** How many requests got each answer: an HTTP status, `closed` or `no answer`. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Requests answered with a 5xx, which bad input must never cause. */
  readonly serverErrors: readonly string[];
}

/** Send every bad request to every route, `parallel` at a time; collect the answers. */
export async function attack(address: string, port: number, parallel = 20): Promise<AttackReport> {
  const host = `${address}:${port}`;
  const requests = [
    ...ROUTES.flatMap(([method, path]) =>
      badRequests(method, path, host).map((r) => ({ ...r, kind: `${method} ${path}: ${r.kind}` })),
    ),
    ...badLongPolls(host),
  ];
  const outcomes: Record<string, number> = {};
  const serverErrors: string[] = [];
  for (let i = 0; i < requests.length; i += parallel) {
    await Promise.all(
      requests.slice(i, i + parallel).map(async (request) => {
        const outcome = await send(address, port, request.bytes);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (outcome.startsWith('5')) serverErrors.push(`${request.kind} → ${outcome}`);
      }),
    );
  }
  return { outcomes, serverErrors };
}

/** The status code of the answer, `closed` without one, `no answer` after 5 s. */
function send(address: string, port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    let received = '';
    const done = (outcome: string): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(5_000, () => done('no answer'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1];
      if (status !== undefined) done(status);
    });
    socket.on('error', () => done('closed'));
    socket.on('close', () => done('closed'));
    socket.on('connect', () => socket.end(bytes));
  });
}

export interface HeldConnections {
  /** How many of each kind are open now. */
  readonly open: () => { idle: number; halfRequests: number; longPolls: number; events: number };
  /**
   * Of the long-polls and event streams: how many were refused with 503 and, of those, how
   * many said when to retry (Retry-After) and gave the registry code.
   */
  readonly refused: () => Record<'longPolls' | 'events', { refused: number; explained: number }>;
  close(): void;
}

type HeldKind = 'idle' | 'halfRequests' | 'longPolls' | 'events';

/**
 * Open and keep `listeners` long-polls (waiting for a change of `term`) and event streams,
 * then `idle` connections that send nothing and `halfRequests` that send half a request and
 * stall. Listeners come first, so that the connection cap the others run into does not
 * decide which listeners get in.
 */
export async function hold(
  address: string,
  port: number,
  counts: { idle: number; halfRequests: number; listeners: number },
  term: number,
): Promise<HeldConnections> {
  const host = `${address}:${port}`;
  const sockets: Record<HeldKind, Socket[]> = {
    idle: [],
    halfRequests: [],
    longPolls: [],
    events: [],
  };
  const heads = new Map<Socket, string>();
  const open = (kind: HeldKind, bytes: string): Promise<void> =>
    new Promise((resolve) => {
      const socket = connect(port, address);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        const head = heads.get(socket) ?? '';
        if (head.length < 2_048) heads.set(socket, head + chunk.toString('latin1'));
      });
      socket.once('connect', () => {
        if (bytes !== '') socket.write(bytes);
        sockets[kind].push(socket);
        resolve();
      });
      socket.once('error', () => resolve());
    });
  const many = async (kind: HeldKind, count: number, bytes: string): Promise<void> => {
    for (let i = 0; i < count; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => open(kind, bytes)));
    }
  };
  await many(
    'longPolls',
    counts.listeners,
    `GET /v1/leader?wait=300s&term=${term} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
  );
  await many(
    'events',
    counts.listeners,
    `GET /v1/events HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  await many('idle', counts.idle, '');
  await many(
    'halfRequests',
    counts.halfRequests,
    `GET /v1/leader HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `,
  );
  const alive = (list: Socket[]): number => list.filter((s) => !s.destroyed).length;
  const refusals = (list: Socket[]): { refused: number; explained: number } => {
    const refused = list
      .map((socket) => heads.get(socket) ?? '')
      .filter((head) => /^HTTP\/1\.1 503 /.test(head));
    const explained = refused.filter(
      (head) => /\r\nretry-after: \d+\r\n/i.test(head) && head.includes('TOO_MANY_SUBSCRIBERS'),
    );
    return { refused: refused.length, explained: explained.length };
  };
  return {
    open: () => ({
      idle: alive(sockets.idle),
      halfRequests: alive(sockets.halfRequests),
      longPolls: alive(sockets.longPolls),
      events: alive(sockets.events),
    }),
    refused: () => ({ longPolls: refusals(sockets.longPolls), events: refusals(sockets.events) }),
    close: () => {
      for (const list of Object.values(sockets)) for (const socket of list) socket.destroy();
    },
  };
}
