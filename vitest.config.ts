import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources in tests (the "source" export
  // condition), so a test never runs against a stale build.
  // Only "source" is added: vitest hands these conditions to Node for external packages too,
  // and "import" there makes CommonJS packages (pg → pg-pool) require an ESM build.
  resolve: { conditions: ['source', 'node'] },
  ssr: { resolve: { conditions: ['source', 'node'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'chaos/test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Adapter tests share real stores and the machine has two cores.
    maxWorkers: 2,
    reporters: process.env.CI
      ? [
          'default',
          ['json', { outputFile: process.env.LEASEHOLD_VITEST_JSON ?? '.vitest-results.json' }],
        ]
      : ['default'],
  },
});
