// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// eslint-disable-next-line no-restricted-syntax -- eslint requires a default export here
export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'src/cli/bin.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  {
    // STYLE.md §1: the raft core is pure and synchronous. No I/O, no clocks, no randomness, no await.
    files: ['raft/**/*.ts'],
    ignores: ['raft/node.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'timers', 'crypto', 'level', '**/src/**', '**/storage/**'], message: 'raft core is pure: no I/O imports.' }] }],
      'no-restricted-globals': ['error', 'Date', 'setTimeout', 'setInterval', 'setImmediate', 'process', 'performance', 'queueMicrotask'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Inject an Rng.' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'AwaitExpression', message: 'raft core is synchronous.' },
        { selector: 'FunctionDeclaration[async=true], ArrowFunctionExpression[async=true], FunctionExpression[async=true]', message: 'raft core is synchronous.' },
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    // raft/ imports neither src/ nor storage/ (ARCHITECTURE.md: imports point down).
    files: ['raft/node.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/**', '**/storage/**', 'level'], message: 'raft/ imports neither src/ nor storage/.' }] }],
    },
  },
  {
    // Any depth: storage/partition-log/ would reach src/ through ../../src/.
    files: ['storage/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/**'], message: 'storage/ must not import src/.' }] }],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
