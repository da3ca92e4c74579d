// `npm run test:model`: the model-based test (test/model), with the global setup of `npm test`
// (one Temporal dev server, the workflow bundle built once) but kept out of `npm test`.
import { defineConfig } from 'vitest/config';
import base from './vitest.config';

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/model/**/*.test.ts'],
    exclude: ['node_modules/**'],
    // One file, one fork: the cases run one after another and share the IMT simulator's faults.
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
