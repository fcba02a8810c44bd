// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Layering (DESIGN §1): sidecar → adapters → core, never backwards, and core has no runtime
 * dependency outside itself and Node's standard library. Packages reach each other by
 * package name only, so a relative path cannot sneak around the rule.
 */
const crossPackageRelative = {
  regex: String.raw`^(\.\./)+(packages/)?(core|adapters|sidecar)/`,
  message: 'Import another package by its name (@leasehold/…), not by a relative path.',
};

const coreUpward = {
  regex: String.raw`^@leasehold/(adapters|sidecar)`,
  message: 'core must not depend on adapters or the sidecar (sidecar → adapters → core).',
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      'test-results/**',
      '.leasehold/**',
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
    files: ['packages/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            crossPackageRelative,
            coreUpward,
            {
              regex: String.raw`^(?!node:|\.|@leasehold/|vitest$|fast-check$)`,
              message: 'core has zero runtime dependencies: only node: modules and its own files.',
            },
          ],
        },
      ],
    },
  },
  {
    // The production half of core may not even import its test helpers' dependencies.
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            crossPackageRelative,
            coreUpward,
            {
              regex: String.raw`^(?!node:|\.|@leasehold/)`,
              message: 'core has zero runtime dependencies: only node: modules and its own files.',
            },
            {
              regex: String.raw`testing/`,
              message: 'production code must not import test helpers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            crossPackageRelative,
            {
              regex: String.raw`^@leasehold/sidecar`,
              message: 'adapters must not depend on the sidecar (sidecar → adapters → core).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/sidecar/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [crossPackageRelative] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
