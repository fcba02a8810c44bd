import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A TCP proxy in front of a server, to break connections the way networks do: `hold()`
 * stops forwarding what clients send (requests stay in flight, unanswered), `cut()` resets
 * every open connection. New connections are forwarded normally.
 */
export class CuttableProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held = new WeakSet<Socket>();
  private readonly server: Server;

  private constructor(
    private readonly targetPort: number,
    readonly port: number,
  ) {
    this.server = createServer((client) => this.forward(client));
  }

  static async start(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(targetPort, await freePort());
    await new Promise<void>((resolve) => proxy.server.listen(proxy.port, '127.0.0.1', resolve));
    return proxy;
  }

  private forward(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on('data', (data) => {
      if (!this.held.has(client)) upstream.write(data);
    });
    upstream.pipe(client);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Drop (never deliver) what clients send from now on, on the connections open now. */
  hold(): void {
    for (const [client] of this.pairs) this.held.add(client);
  }

  /** Reset every open connection; new ones are forwarded normally again. */
  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
