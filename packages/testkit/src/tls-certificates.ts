import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway CA and two certificates it signs: the server's (for 127.0.0.1 and localhost)
 * and a client's, as files and (the CA and the client's) as PEM text; more on request. Made
 * with the openssl CLI (the one place tests run it); files live until `dispose()`. A second
 * instance is an unrelated CA with its own keys.
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
    openssl(
      dir,
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
      ...['-subj', '/CN=leasehold test CA', '-keyout', 'ca.key', '-out', 'ca.crt'],
    );
    signCertificate(dir, 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
    signCertificate(dir, 'client', 'extendedKeyUsage=clientAuth');
    return new TestCertificates(dir);
  }

  /**
   * One more certificate this CA signs, for subject `name` with the X.509 `extension` (an
   * OpenSSL extension line, say `subjectAltName=DNS:elsewhere.invalid`), and its key.
   */
  issue(name: string, extension: string): { readonly certFile: string; readonly keyFile: string } {
    signCertificate(this.dir, name, extension);
    return { certFile: join(this.dir, `${name}.crt`), keyFile: join(this.dir, `${name}.key`) };
  }

  /** The client's key encrypted with `passphrase` (AES-256, as `openssl pkey -aes256` does). */
  encryptedClientKeyFile(passphrase: string): string {
    const file = join(this.dir, 'client-encrypted.key');
    openssl(
      this.dir,
      ...['pkey', '-in', this.clientKeyFile, '-aes256'],
      ...['-passout', `pass:${passphrase}`, '-out', file],
    );
    return file;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** `name`.key and `name`.crt in `dir`, signed by the CA there, with the X.509 `extension`. */
function signCertificate(dir: string, name: string, extension: string): void {
  writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
  openssl(
    dir,
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`],
    ...['-keyout', `${name}.key`, '-out', `${name}.csr`],
  );
  openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key'],
    ...['-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
  );
}
