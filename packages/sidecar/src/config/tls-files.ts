import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { invalidSetting } from './config-errors.js';
import { type SettingKey, type SidecarConfig } from './fields.js';

/**
 * The store's TLS files (--store-ca, --store-cert, --store-key), read and checked once at
 * start-up, before any store is opened: every backend then refuses junk with the same line,
 * instead of one failing at once, one retrying for ever and one logging a driver's riddle.
 */

export interface TlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

export function readTlsFiles(config: SidecarConfig): TlsMaterial | undefined {
  const { storeCa, storeCert, storeKey } = config;
  if (config.storeKeyPassphrase !== undefined && storeKey === undefined) {
    throw invalidSetting(
      config,
      'storeKeyPassphrase',
      'a passphrase for --store-key, which is not set',
    );
  }
  if (storeCa === undefined && storeCert === undefined && storeKey === undefined) return undefined;
  if ((storeCert === undefined) !== (storeKey === undefined)) {
    const given = storeCert === undefined ? 'storeKey' : 'storeCert';
    throw invalidSetting(
      config,
      given,
      'a client certificate needs its private key: set --store-cert and --store-key together',
    );
  }
  const ca = storeCa === undefined ? undefined : readPem(config, 'storeCa', storeCa);
  if (ca !== undefined) certificatesIn(config, 'storeCa', ca);
  if (storeCert === undefined || storeKey === undefined)
    return { ...(ca === undefined ? {} : { ca }) };

  const cert = readPem(config, 'storeCert', storeCert);
  const key = readPem(config, 'storeKey', storeKey);
  const [certificate] = certificatesIn(config, 'storeCert', cert);
  const privateKey = parseKey(config, 'storeKey', key);
  if (certificate !== undefined && !certificate.checkPrivateKey(privateKey)) {
    throw invalidSetting(
      config,
      'storeKey',
      "the private key of --store-cert's certificate; this key belongs to another certificate",
    );
  }
  // Decrypted once here: every driver then gets a plain key and never the passphrase.
  const plainKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { ...(ca === undefined ? {} : { ca }), cert, key: plainKey };
}

/**
 * The HTTP listener's own certificate and key (--tls-cert, --tls-key), checked as the
 * store's are: both or neither, readable, the key that of the certificate.
 */
export function readListenerTls(config: SidecarConfig): { cert: string; key: string } | undefined {
  const { tlsCert, tlsKey } = config;
  if (tlsCert === undefined && tlsKey === undefined) return undefined;
  if (tlsCert === undefined || tlsKey === undefined) {
    throw invalidSetting(
      config,
      tlsCert === undefined ? 'tlsKey' : 'tlsCert',
      'HTTPS needs a certificate and its key: set --tls-cert and --tls-key together',
    );
  }
  const cert = readPem(config, 'tlsCert', tlsCert);
  const key = readPem(config, 'tlsKey', tlsKey);
  const [certificate] = certificatesIn(config, 'tlsCert', cert);
  if (certificate !== undefined && !certificate.checkPrivateKey(parseKey(config, 'tlsKey', key))) {
    throw invalidSetting(
      config,
      'tlsKey',
      "the private key of --tls-cert's certificate; this key belongs to another certificate",
    );
  }
  return { cert, key };
}

function readPem(config: SidecarConfig, setting: SettingKey, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw invalidSetting(config, setting, `a readable PEM file (${reason})`);
  }
}

/** Every certificate in a PEM file; refuses a file without one, or with a broken one. */
function certificatesIn(
  config: SidecarConfig,
  setting: SettingKey,
  pem: string,
): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  const what =
    setting === 'storeCa' ? 'a PEM file of CA certificates' : 'a PEM file with a certificate';
  if (blocks.length === 0) {
    throw invalidSetting(
      config,
      setting,
      `${what} (-----BEGIN CERTIFICATE-----); this file has no certificate in it`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw invalidSetting(
        config,
        setting,
        `${what}; certificate ${index + 1} in this file is damaged and cannot be read`,
      );
    }
  });
}

function parseKey(config: SidecarConfig, setting: 'storeKey' | 'tlsKey', pem: string): KeyObject {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
  // Only the store's key has a passphrase setting; the listener's must be unencrypted.
  const passphrase = setting === 'storeKey' ? config.storeKeyPassphrase : undefined;
  if (encrypted && passphrase === undefined) {
    throw invalidSetting(
      config,
      setting,
      setting === 'storeKey'
        ? 'an unencrypted PEM private key, or its passphrase; this one is encrypted: give --store-key-passphrase-file (or decrypt it: openssl pkey -in key.pem -out plain.pem)'
        : 'an unencrypted PEM private key; this one is encrypted (decrypt it: openssl pkey -in key.pem -out plain.pem)',
    );
  }
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch {
    if (encrypted) {
      throw invalidSetting(
        config,
        'storeKeyPassphrase',
        'the passphrase --store-key was encrypted with; this one does not decrypt it',
      );
    }
    throw invalidSetting(
      config,
      setting,
      'a PEM private key (-----BEGIN PRIVATE KEY-----); this file has none that can be read',
    );
  }
}
