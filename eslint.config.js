// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Layering (docs/design.md §1): sidecar → adapters → core, never backwards, and core has no runtime
 * dependency outside itself and Node's standard library. Packages reach each other by
 * package name only, so a relative path cannot sneak around the rule: not into another
 * package, the chaos suite or another package's tests (their shared parts live in the test
 * kit, @leasehold/testkit).
 */
const crossPackageRelative = {
  regex: String.raw`^(\.\./)+(packages/)?(core|conformance|adapters|sidecar|testkit|chaos)/`,
  message: 'Import another package by its name (@leasehold/…), not by a relative path.',
};

/** The test kit is for tests, the chaos suite and the benchmarks only. */
const noTestKit = {
  regex: String.raw`^@leasehold/testkit`,
  message: 'production code must not import the test kit (@leasehold/testkit).',
};

const coreUpward = {
  regex: String.raw`^@leasehold/(adapters|sidecar)`,
  message: 'core must not depend on adapters or the sidecar (sidecar → adapters → core).',
};

/** Patterns that hold everywhere, plus the layer's own. */
const restrictImports = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns: [crossPackageRelative, ...patterns] }],
});

const adaptersUpward = {
  regex: String.raw`^@leasehold/sidecar`,
  message: 'adapters must not depend on the sidecar (sidecar → adapters → core).',
};

const onlyNodeAndOwnFiles = (extraAllowed) => ({
  regex: String.raw`^(?!node:|\.|@leasehold/${extraAllowed})`,
  message: 'core has zero runtime dependencies: only node: modules and its own files.',
});

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      'test-results/**',
      '.leasehold/**',
      'dist-release/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests and test helpers in core may use the test tools, nothing else from outside.
    files: ['packages/core/**/*.ts'],
    rules: restrictImports(coreUpward, onlyNodeAndOwnFiles('|vitest$|fast-check$')),
  },
  {
    // The production half of core: Node's standard library and its own files only.
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/testing/**'],
    rules: restrictImports(coreUpward, noTestKit, onlyNodeAndOwnFiles(''), {
      regex: String.raw`testing/|^@leasehold/conformance`,
      message: 'production code must not import test helpers.',
    }),
  },
  {
    // The conformance suite: a vitest suite over core's contract, nothing else.
    files: ['packages/conformance/**/*.ts'],
    rules: restrictImports({
      regex: String.raw`^(?!node:|\.|vitest$|@leasehold/core$)`,
      message: 'the conformance suite imports only node: modules, vitest and @leasehold/core.',
    }),
  },
  {
    files: ['packages/adapters/**/*.ts'],
    rules: restrictImports(adaptersUpward),
  },
  {
    files: ['packages/adapters/src/**/*.ts'],
    rules: restrictImports(adaptersUpward, noTestKit),
  },
  {
    // Tests, the chaos suite and the benchmarks: other packages by name only.
    files: ['packages/sidecar/**/*.ts', 'test/**/*.ts', 'chaos/**/*.ts', 'bench/**/*.mjs'],
    rules: restrictImports(),
  },
  {
    files: ['packages/sidecar/src/**/*.ts'],
    rules: restrictImports(noTestKit),
  },
  {
    // The test kit: Node's standard library and its own files. It starts store servers as
    // programs and the sidecar as a command, so it needs no store client and no package of
    // ours, and tests of any layer can use it.
    files: ['packages/testkit/**/*.ts'],
    rules: restrictImports({
      regex: String.raw`^(?!node:|\.)`,
      message: 'the test kit imports only node: modules and its own files.',
    }),
  },
  {
    // A function a newcomer can hold in their head: split by concern past this. Suite
    // definitions (one describe with its cases) are exempt.
    files: ['packages/*/src/**/*.ts', 'chaos/src/**/*.ts'],
    ignores: ['packages/conformance/src/index.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
