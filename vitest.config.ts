import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The model-based test runs on its own: `npm run test:model` (vitest.model.config.ts).
    exclude: [...configDefaults.exclude, 'test/model/**'],
    // One Temporal dev server for the whole run, and the workflow bundle built once.
    globalSetup: ['test/helpers/global-setup.ts'],
    // The Temporal worker's native runtime does not belong in worker_threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 90_000,
    hookTimeout: 180_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
