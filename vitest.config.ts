import { defineConfig } from 'vitest/config';

export const config = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});

// vitest loads the config module's default export; the only default export in the tree.
// eslint-disable-next-line no-restricted-syntax
export default config;
