import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway CA and two certificates it signs: the server's (for 127.0.0.1 and localhost)
 * and a client's, as files and (the CA and the client's) as PEM text. Made with the openssl
 * CLI; files live until `dispose()`. A second instance is an unrelated CA with its own keys.
 */
export class TestCertificates {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;

  private constructor(private readonly dir: string) {
    this.caFile = join(dir, 'ca.crt');
    this.serverCertFile = join(dir, 'server.crt');
    this.serverKeyFile = join(dir, 'server.key');
    this.clientCertFile = join(dir, 'client.crt');
    this.clientKeyFile = join(dir, 'client.key');
    this.ca = readFileSync(this.caFile, 'utf8');
    this.clientCert = readFileSync(this.clientCertFile, 'utf8');
    this.clientKey = readFileSync(this.clientKeyFile, 'utf8');
  }

  static create(): TestCertificates {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-tls-'));
    const openssl = (...args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=leasehold test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    for (const [name, ext] of [
      ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    }
    return new TestCertificates(dir);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
