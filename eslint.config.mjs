import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'web/src/api/schema.d.ts', 'test-artifacts/**', 'node_modules/**', 'coverage/**', '.data/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The domain is pure: no SDK, no adapter, no app wiring (STYLE.md habit 2).
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['@azure/*', '@microsoft/*', 'better-sqlite3', 'pino', 'node:http', 'node:https', 'http', 'https'], message: 'src/domain must not import an SDK or I/O library: take a port instead.' },
          { group: ['**/adapters/**', '**/app/**', '**/functions/**'], message: 'src/domain must not import adapters or app wiring.' },
        ],
      }],
    },
  },
);
