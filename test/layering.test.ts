import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering rule lives in eslint.config.js; this proves it fires on the imports it must
// refuse and stays quiet on the ones that are allowed.
const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function restrictedImports(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('layering: sidecar → adapters → core', () => {
  it.each([
    ['packages/core/src/x.ts', "import '@leasehold/adapters';", 'must not depend on adapters'],
    [
      'packages/core/src/x.ts',
      "import '@leasehold/sidecar';",
      'must not depend on adapters or the sidecar',
    ],
    ['packages/core/src/x.ts', "import 'ioredis';", 'zero runtime dependencies'],
    ['packages/core/src/x.ts', "import { it } from 'vitest';", 'zero runtime dependencies'],
    ['packages/core/src/x.ts', "import './testing/index.js';", 'must not import test helpers'],
    [
      'packages/adapters/src/x.ts',
      "import '@leasehold/sidecar';",
      'must not depend on the sidecar',
    ],
    ['packages/adapters/src/x.ts', "import '../../core/src/elector.js';", 'by its name'],
    ['packages/sidecar/src/x.ts', "import '../../adapters/src/index.js';", 'by its name'],
    // The test kit: tests, chaos and bench only; it leans on nothing but Node.
    ['packages/core/src/x.ts', "import '@leasehold/testkit';", 'must not import the test kit'],
    ['packages/adapters/src/x.ts', "import '@leasehold/testkit';", 'must not import the test kit'],
    ['packages/sidecar/src/x.ts', "import '@leasehold/testkit';", 'must not import the test kit'],
    ['packages/conformance/src/x.ts', "import '@leasehold/testkit';", 'imports only node:'],
    ['packages/testkit/src/x.ts', "import '@leasehold/core';", 'the test kit imports only'],
    ['packages/testkit/src/x.ts', "import 'ioredis';", 'the test kit imports only'],
    // Nothing reaches into another package, its tests or the chaos suite by a relative path.
    ['test/x.test.ts', "import '../chaos/src/netlab.js';", 'by its name'],
    ['test/x.test.ts', "import '../packages/sidecar/src/run/process-group.js';", 'by its name'],
    ['test/support/x.ts', "import '../../packages/sidecar/test/helpers/x.js';", 'by its name'],
    ['packages/adapters/test/x.test.ts', "import '../../../chaos/src/x.js';", 'by its name'],
    [
      'packages/sidecar/test/x.test.ts',
      "import '../../adapters/test/helpers/x.js';",
      'by its name',
    ],
    ['packages/sidecar/test/x.test.ts', "import '../../testkit/src/wait.js';", 'by its name'],
    ['chaos/src/x.ts', "import '../packages/testkit/src/netlab.js';", 'by its name'],
    ['bench/lib/x.mjs', "import '../../chaos/src/netlab.ts';", 'by its name'],
  ])('%s refuses %s', async (file, code, expected) => {
    const messages = await restrictedImports(file, code);
    expect(messages.join('\n')).toContain(expected);
  });

  it.each([
    ['packages/core/src/x.ts', "import { randomUUID } from 'node:crypto';"],
    ['packages/core/src/x.ts', "import './clock.js';"],
    ['packages/core/src/testing/x.ts', "import { it } from 'vitest';"],
    ['packages/adapters/src/x.ts', "import '@leasehold/core';"],
    ['packages/adapters/src/x.ts', "import 'ioredis';"],
    ['packages/sidecar/src/x.ts', "import '@leasehold/adapters';"],
    ['packages/sidecar/src/x.ts', "import '@leasehold/core';"],
    ['packages/testkit/src/x.ts', "import { spawn } from 'node:child_process';"],
    ['packages/testkit/src/stores/x.ts', "import '../netlab.js';"],
    ['packages/adapters/test/x.test.ts', "import { until } from '@leasehold/testkit';"],
    ['packages/sidecar/test/x.test.ts', "import '../src/process-group.js';"],
    ['test/x.test.ts', "import { createNetLab } from '@leasehold/testkit';"],
    ['chaos/src/x.ts', "import { until } from '@leasehold/testkit';"],
    ['chaos/test/x.test.ts', "import '../src/checker.js';"],
    ['bench/lib/x.mjs', "import { startLabStore } from '@leasehold/testkit';"],
  ])('%s allows %s', async (file, code) => {
    expect(await restrictedImports(file, code)).toEqual([]);
  });
});
