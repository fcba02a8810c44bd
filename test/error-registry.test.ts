import { errorCodes, errorRegistry } from '@leasehold/core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^## (LEASEHOLD_E_[A-Z_]+)$/gm)].map((m) => m[1]);

describe('error registry and docs/errors.md', () => {
  it('document exactly the codes in the registry, in the same order', () => {
    expect(documented).toEqual(errorCodes);
  });

  it.each(errorCodes)(
    '%s is documented as transient, fatal or per-request, as the registry says',
    (code) => {
      const section = doc.split(`## ${code}\n`)[1]?.split('\n## ')[0] ?? '';
      const { transient, request } = errorRegistry[code];
      const kind = request ? 'Per-request.' : transient ? 'Transient.' : 'Fatal.';
      expect(section.trimStart().startsWith(kind)).toBe(true);
    },
  );

  it('classes as a configuration fault exactly the codes start-up failures exit 2 for', () => {
    const configuration = errorCodes.filter(
      (code) => errorRegistry[code].fault === 'configuration',
    );
    expect(configuration).toEqual([
      'LEASEHOLD_E_CONFIG',
      'LEASEHOLD_E_TIMING',
      'LEASEHOLD_E_UNSUPPORTED_STORE',
    ]);
  });
});
