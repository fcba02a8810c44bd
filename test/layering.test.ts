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
    ['packages/sidecar/src/watchdog.ts', "import 'pino';", 'the watchdog imports only'],
    ['packages/sidecar/src/watchdog.ts', "import './serve.js';", 'the watchdog imports only'],
    ['packages/sidecar/src/process-group.ts', "import '@leasehold/core';", 'the watchdog'],
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
    ['packages/sidecar/src/watchdog.ts', "import { spawn } from 'node:child_process';"],
    ['packages/sidecar/src/watchdog.ts', "import './watchdog-protocol.js';"],
  ])('%s allows %s', async (file, code) => {
    expect(await restrictedImports(file, code)).toEqual([]);
  });
});
