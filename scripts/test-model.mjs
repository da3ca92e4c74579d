// `npm run test:model -- --runs N`: the model-based test of one run per transaction (issue 20,
// test/model) with N generated cases (default 50, what CI runs), on the same real dev server and
// simulators as `npm test`. MODEL_SEED / MODEL_PATH in the environment replay a reported case.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { z } from 'zod';

let values;
try {
  ({ values } = parseArgs({ options: { runs: { type: 'string', default: '50' } } }));
} catch (err) {
  console.error(`test:model: ${err.message}. Usage: npm run test:model -- --runs N`);
  process.exit(2);
}
const runs = z.coerce.number().int().min(1).max(100_000).safeParse(values.runs);
if (!runs.success) {
  console.error(`test:model: --runs must be a whole number from 1 to 100000 (got '${values.runs}')`);
  process.exit(2);
}
const r = spawnSync('npx', ['vitest', 'run', '--config', 'vitest.model.config.ts'], {
  stdio: 'inherit',
  env: { ...process.env, MODEL_RUNS: String(runs.data) },
});
process.exit(r.status ?? 1);
