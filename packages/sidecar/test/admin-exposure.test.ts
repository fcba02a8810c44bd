import { loadConfig, serve, type RunningSidecar } from '@leasehold/sidecar';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestCertificates, until } from '@leasehold/testkit';

/**
 * The admin token on a listener other hosts can reach (issue 25): without TLS it would cross
 * the network in clear, so resign is refused unless --allow-insecure-admin says otherwise;
 * with --tls-cert and --tls-key the listener speaks HTTPS and takes it. One log line each.
 */
const TOKEN = 'admin-exposure-token-0123456789';
/** The HTTPS listener's certificates, made by the one test that needs them. */
let certs: TestCertificates | undefined;
afterAll(() => certs?.dispose());

const running: RunningSidecar[] = [];
afterEach(async () => {
  for (const sidecar of running.splice(0)) await sidecar.shutdown('test over');
});

async function start(flags: Record<string, string>): Promise<{ url: string; logs: string[] }> {
  const config = loadConfig({
    flags: {
      store: 'redis://127.0.0.1:6379',
      'store-prefix': `lhadm${randomUUID().slice(0, 8)}`,
      election: `admin-${randomUUID().slice(0, 8)}`,
      ttl: '2s',
      port: '0',
      'admin-token': TOKEN,
      ...flags,
    },
    env: {},
  });
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const sidecar = await serve(config, logger);
  running.push(sidecar);
  await until('sidecar.elector.isLeader()', 5_000, () => sidecar.elector.isLeader());
  return { url: sidecar.url.replace('0.0.0.0', '127.0.0.1'), logs };
}

function resign(url: string, ca?: string): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      `${url}/v1/resign`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        ...(ca === undefined ? {} : { ca }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the admin token on a non-loopback bind', () => {
  it('is refused without TLS, with one line saying why and what to set', async () => {
    const { url, logs } = await start({ host: '0.0.0.0' });
    const answer = await resign(url);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'LEASEHOLD_E_RESIGN_DISABLED' });
    expect(answer.body).toContain('--tls-cert');
    const lines = logs.filter((line) => line.includes('resign is disabled'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--allow-insecure-admin');
    expect(logs.join('')).not.toContain(TOKEN);
  });

  it('is taken with --allow-insecure-admin, which is logged once', async () => {
    const { url, logs } = await start({ host: '0.0.0.0', 'allow-insecure-admin': 'true' });
    const answer = await resign(url);
    expect(answer.status).toBe(200);
    expect(logs.filter((line) => line.includes('in clear'))).toHaveLength(1);
  });

  it('is taken over HTTPS with --tls-cert and --tls-key', async () => {
    certs = TestCertificates.create();
    const { url, logs } = await start({
      host: '0.0.0.0',
      'tls-cert': certs.serverCertFile,
      'tls-key': certs.serverKeyFile,
    });
    expect(url.startsWith('https://')).toBe(true);
    const answer = await resign(url, certs.ca);
    expect(answer.status).toBe(200);
    expect(logs.some((line) => line.includes('resign is disabled'))).toBe(false);
    // Plain HTTP on the TLS port gets no answer.
    await expect(resign(url.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('keeps resign on a loopback bind, as before', async () => {
    const { url, logs } = await start({});
    expect((await resign(url)).status).toBe(200);
    expect(logs.some((line) => line.includes('resign is disabled'))).toBe(false);
  });
});
