import type { LeaseStore } from '@leasehold/core';
import pg from 'pg';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../src/postgres/index.js';
import {
  type PrivatePostgres,
  startPrivatePostgres,
  TestCertificates,
  until,
} from '@leasehold/testkit';

/**
 * Issue 25, item 1: TLS to PostgreSQL with libpq's sslmode meanings, and the CA, client
 * certificate and key always used. A private server with ssl = on, the test kit's
 * certificates: a CA that signs the server's (127.0.0.1, localhost) and a client's (CN
 * "client"), and another CA that signs nothing the server shows. pg_hba.conf lets role
 * "client" in only over TLS with a certificate the CA signed (clientcert=verify-full), and
 * role "sslonly" only over TLS.
 */

const PG_HBA_FIRST = [
  'hostssl all client 127.0.0.1/32 trust clientcert=verify-full',
  'host    all client 127.0.0.1/32 reject',
  'hostssl all sslonly 127.0.0.1/32 trust',
  'host    all sslonly 127.0.0.1/32 reject',
];

let server: PrivatePostgres;
let certs: TestCertificates;
let otherCa: TestCertificates;
let serverFiles: string;

async function adminQuery<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Server files the postgres user can read (the key only it). */
function serverFile(name: string, from: string, mode = 0o644): string {
  const path = join(serverFiles, name);
  copyFileSync(from, path);
  const postgres = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  if (userInfo().uid === 0) chownSync(path, postgres, postgres);
  chmodSync(path, mode);
  return path;
}

/** Serve `cert` and `key`, and wait until new sessions get them. */
async function serve(cert: string, key: string): Promise<void> {
  const certFile = serverFile('server.crt', cert);
  const keyFile = serverFile('server.key', key, 0o600);
  const caFile = serverFile('ca.crt', certs.caFile);
  for (const [setting, value] of [
    ['ssl_cert_file', certFile],
    ['ssl_key_file', keyFile],
    ['ssl_ca_file', caFile],
    ['ssl', 'on'],
  ]) {
    await adminQuery(`ALTER SYSTEM SET ${setting} = '${value}'`);
  }
  await adminQuery('SELECT pg_reload_conf()');
  const served = new X509Certificate(readFileSync(cert)).fingerprint256;
  await until('the server serves the new certificate', 10_000, async () => {
    const client = new pg.Client({
      connectionString: server.url,
      ssl: { rejectUnauthorized: false },
    });
    try {
      await client.connect();
      const socket = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      return socket.getPeerX509Certificate()?.fingerprint256 === served;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  });
}

beforeAll(async () => {
  certs = TestCertificates.create();
  otherCa = TestCertificates.create();
  serverFiles = mkdtempSync(join(tmpdir(), 'leasehold-pg-tls-'));
  chmodSync(serverFiles, 0o755);
  server = await startPrivatePostgres();
  const [{ hba_file: hba = '' } = {}] = await adminQuery<{ hba_file: string }>('SHOW hba_file');
  writeFileSync(hba, `${PG_HBA_FIRST.join('\n')}\n${readFileSync(hba, 'utf8')}`);
  await adminQuery('CREATE ROLE client LOGIN SUPERUSER');
  await adminQuery('CREATE ROLE sslonly LOGIN SUPERUSER');
  await serve(certs.serverCertFile, certs.serverKeyFile);
}, 60_000);

afterAll(async () => {
  await server?.close();
  certs?.dispose();
  otherCa?.dispose();
  rmSync(serverFiles, { recursive: true, force: true });
});

describe('postgres over TLS', () => {
  const stores: LeaseStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  const url = (user: string, sslmode?: string): URL =>
    new URL(
      `postgres://${user}@127.0.0.1:${server.port}/postgres${sslmode === undefined ? '' : `?sslmode=${sslmode}`}`,
    );

  async function open(address: URL, tls?: { ca?: string; cert?: string; key?: string }) {
    const store = await createPostgresStore(address, {
      namespace: 'tls',
      ...(tls === undefined ? {} : { tls }),
    });
    stores.push(store);
    await store.read('jobs');
    return store;
  }

  /** Whether leasehold's session on the server uses TLS. */
  async function sessionUsesTls(): Promise<boolean> {
    const rows = await adminQuery<{ ssl: boolean }>(
      `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.application_name = 'leasehold'`,
    );
    expect(rows).toHaveLength(1);
    return rows[0]?.ssl === true;
  }

  it('connects with the right CA: verify-full, verify-ca, require, and a CA alone', async () => {
    for (const sslmode of ['verify-full', 'verify-ca', 'require', undefined]) {
      await open(url('postgres', sslmode), { ca: certs.ca });
      expect(await sessionUsesTls()).toBe(true);
      await Promise.all(stores.splice(0).map((store) => store.close()));
    }
  });

  it('refuses a server certificate from another CA: verify-ca, verify-full, and a CA alone', async () => {
    for (const sslmode of [undefined, 'verify-ca', 'verify-full', 'require']) {
      await expect(
        open(url('postgres', sslmode), { ca: otherCa.ca }),
        String(sslmode),
      ).rejects.toThrow(
        /the TLS handshake failed \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
      );
    }
  });

  it('uses the client certificate, with sslmode in the URL or not', async () => {
    const clientTls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    for (const sslmode of ['verify-full', 'require', undefined]) {
      await open(url('client', sslmode), clientTls);
      expect(await sessionUsesTls()).toBe(true);
      await Promise.all(stores.splice(0).map((store) => store.close()));
    }
    await expect(open(url('client', 'verify-full'), { ca: certs.ca })).rejects.toThrow(
      /refused this connection.*certificate/,
    );
  });

  it('keeps libpq\u2019s disable, allow, prefer (the default) and require', async () => {
    await open(url('postgres', 'disable'));
    expect(await sessionUsesTls()).toBe(false);
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await expect(open(url('sslonly', 'disable'))).rejects.toThrow(/no encryption/);

    await open(url('postgres', 'allow'));
    expect(await sessionUsesTls()).toBe(false);
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await open(url('sslonly', 'allow'));
    expect(await sessionUsesTls()).toBe(true);
    await Promise.all(stores.splice(0).map((store) => store.close()));

    for (const sslmode of ['prefer', undefined, 'require']) {
      await open(url('postgres', sslmode));
      expect(await sessionUsesTls()).toBe(true);
      await Promise.all(stores.splice(0).map((store) => store.close()));
    }
  });

  it('checks the host name under verify-full (and a CA alone), not under verify-ca', async () => {
    // A certificate the test CA signs for a host that is not 127.0.0.1 or localhost.
    const elsewhere = certs.issue('elsewhere.invalid', 'subjectAltName=DNS:elsewhere.invalid');
    await serve(elsewhere.certFile, elsewhere.keyFile);
    try {
      for (const sslmode of ['verify-full', undefined]) {
        await expect(
          open(url('postgres', sslmode), { ca: certs.ca }),
          String(sslmode),
        ).rejects.toThrow(/the TLS handshake failed \(ERR_TLS_CERT_ALTNAME_INVALID/);
      }
      await open(url('postgres', 'verify-ca'), { ca: certs.ca });
      expect(await sessionUsesTls()).toBe(true);
    } finally {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await serve(certs.serverCertFile, certs.serverKeyFile);
    }
  });
});
