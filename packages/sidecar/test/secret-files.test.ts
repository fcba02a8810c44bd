import { loadConfig } from '@leasehold/sidecar';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { TestCertificates } from '@leasehold/testkit';
import { SECRET_FILE_OPTIONS, type SidecarConfig } from '../src/config/fields.js';
import { readTlsFiles } from '../src/config/tls-files.js';

// Every secret setting can be read from a file (Docker and Kubernetes secrets), and the
// configuration says when a secret is exposed, without ever saying the secret.

const dir = mkdtempSync(join(tmpdir(), 'leasehold-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
function file(content: string, mode = 0o600): string {
  count += 1;
  const path = join(dir, `f${count}`);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}
const TOKEN = 'token-from-a-file-0123456789';
const STORE = 'redis://app:pa55-from-a-file@127.0.0.1:6379';

function failure(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

describe('secrets from files', () => {
  it('has a file variant for every secret setting', () => {
    expect(SECRET_FILE_OPTIONS.map((o) => [o.flag, o.env, o.yaml])).toEqual([
      ['store-file', 'LEASEHOLD_STORE_FILE', 'storeFile'],
      ['admin-token-file', 'LEASEHOLD_ADMIN_TOKEN_FILE', 'adminTokenFile'],
      [
        'store-key-passphrase-file',
        'LEASEHOLD_STORE_KEY_PASSPHRASE_FILE',
        'storeKeyPassphraseFile',
      ],
    ]);
  });

  it('reads each from a flag, a variable or a YAML key, without one trailing newline', () => {
    const fromFlag = loadConfig({
      flags: { 'admin-token-file': file(`${TOKEN}\n`), 'store-file': file(`${STORE}\r\n`) },
      env: {},
    });
    expect([fromFlag.adminToken, fromFlag.store]).toEqual([TOKEN, STORE]);
    expect(fromFlag.warnings).toEqual([]);

    const fromEnv = loadConfig({
      flags: {},
      env: { LEASEHOLD_ADMIN_TOKEN_FILE: file(`${TOKEN}\n\n`), LEASEHOLD_STORE_FILE: file(STORE) },
    });
    // One newline only: a second one is part of the value.
    expect(fromEnv.adminToken).toBe(`${TOKEN}\n`);
    expect(fromEnv.store).toBe(STORE);

    const yaml = file(`adminTokenFile: ${file(TOKEN)}\nstore-file: ${file(STORE)}\n`, 0o644);
    const fromYaml = loadConfig({ flags: {}, env: {}, configFile: yaml });
    expect([fromYaml.adminToken, fromYaml.store]).toEqual([TOKEN, STORE]);
    // The YAML file names the files; it holds no secret, so its mode does not matter.
    expect(fromYaml.warnings).toEqual([]);
  });

  it('keeps the precedence: a flag file over a variable', () => {
    const config = loadConfig({
      flags: { 'admin-token-file': file(TOKEN) },
      env: { LEASEHOLD_ADMIN_TOKEN: 'token-from-the-environment' },
    });
    expect(config.adminToken).toBe(TOKEN);
  });

  it.each([
    [
      { 'admin-token': TOKEN, 'admin-token-file': '/x' },
      {},
      'both --admin-token and --admin-token-file are given',
    ],
    [
      {},
      { LEASEHOLD_STORE: STORE, LEASEHOLD_STORE_FILE: '/x' },
      'both LEASEHOLD_STORE and LEASEHOLD_STORE_FILE are given',
    ],
  ])('refuses a value and its file at once, naming both: %j %j', (flags, env, line) => {
    const error = failure(() => loadConfig({ flags, env }));
    expect(error.message).toBe(
      `invalid ${line.includes('STORE') ? 'store' : 'admin-token'}: ${line}; keep one`,
    );
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toContain('pa55');
  });

  it('refuses an unreadable file naming its path, never its contents', () => {
    const error = failure(() =>
      loadConfig({ flags: { 'admin-token-file': join(dir, 'missing') }, env: {} }),
    );
    expect(error.message).toBe(
      `invalid admin-token-file (flag --admin-token-file): ${JSON.stringify(join(dir, 'missing'))}; a readable file holding the admin-token setting (ENOENT)`,
    );
    const short = failure(() =>
      loadConfig({ flags: {}, env: { LEASEHOLD_ADMIN_TOKEN_FILE: file('short-secret\n') } }),
    );
    expect(short.message).toMatch(
      /^invalid admin-token \(environment LEASEHOLD_ADMIN_TOKEN_FILE \/.*\): "\*\*\*"; at least 16 characters$/,
    );
    expect(short.message).not.toContain('short-secret');
  });

  it('warns when a secret is a flag (ps shows it), without the secret', () => {
    const config = loadConfig({ flags: { 'admin-token': TOKEN, store: STORE }, env: {} });
    expect(config.warnings).toEqual([
      '--store puts a secret on the command line, where every local user can read it (ps, /proc); use --store-file or LEASEHOLD_STORE_FILE',
      '--admin-token puts a secret on the command line, where every local user can read it (ps, /proc); use --admin-token-file or LEASEHOLD_ADMIN_TOKEN_FILE',
    ]);
    // A store URL without a password is no secret.
    const plain = loadConfig({ flags: { store: 'redis://127.0.0.1:6379' }, env: {} });
    expect(plain.warnings).toEqual([]);
  });

  it('warns when the YAML file holding a secret is readable by group or others', () => {
    const open = file(`adminToken: ${TOKEN}\n`, 0o644);
    expect(loadConfig({ flags: {}, env: {}, configFile: open }).warnings).toEqual([
      `config file ${open} holds adminToken and its group and others can read it (mode 0644); chmod 600 ${open}, or keep the secret in a file of its own (adminTokenFile)`,
    ]);
    const groupOnly = file(`store: ${STORE}\n`, 0o640);
    expect(loadConfig({ flags: {}, env: {}, configFile: groupOnly }).warnings[0]).toMatch(
      /holds store and its group can read it \(mode 0640\)/,
    );
    const closed = file(`adminToken: ${TOKEN}\n`, 0o600);
    expect(loadConfig({ flags: {}, env: {}, configFile: closed }).warnings).toEqual([]);
    const noSecret = file('store: redis://127.0.0.1:6379\n', 0o644);
    expect(loadConfig({ flags: {}, env: {}, configFile: noSecret }).warnings).toEqual([]);
  });
});

describe('an encrypted --store-key', () => {
  const tls = (flags: Record<string, string>): ReturnType<typeof readTlsFiles> =>
    readTlsFiles(loadConfig({ flags, env: {} }) as SidecarConfig);

  it('is decrypted with the passphrase from its file; a wrong one is refused', () => {
    const certs = TestCertificates.create();
    onTestFinished(() => certs.dispose());
    const encrypted = certs.encryptedClientKeyFile('open sesame');
    const flags = { 'store-cert': certs.clientCertFile, 'store-key': encrypted };
    const material = tls({ ...flags, 'store-key-passphrase-file': file('open sesame\n') });
    expect(material?.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const wrong = failure(() => tls({ ...flags, 'store-key-passphrase-file': file('wrong\n') }));
    expect(wrong.message).toMatch(
      /^invalid store-key-passphrase \(flag --store-key-passphrase-file \/.*\): "\*\*\*"; the passphrase --store-key was encrypted with/,
    );
    const none = failure(() => tls(flags));
    expect(none.message).toContain('give --store-key-passphrase-file');
    expect(readFileSync(encrypted, 'utf8')).toContain('ENCRYPTED');
  });
});
