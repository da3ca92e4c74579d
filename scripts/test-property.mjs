// `npm run test:property -- --runs N`: the money property test (issue 9) with N cases
// instead of CI's 50, on the same real dev server and simulators as `npm test`.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { z } from 'zod';

let values;
try {
  ({ values } = parseArgs({ options: { runs: { type: 'string', default: '50' } } }));
} catch (err) {
  console.error(`test:property: ${err.message}. Usage: npm run test:property -- --runs N`);
  process.exit(2);
}
const runs = z.coerce.number().int().min(1).max(100_000).safeParse(values.runs);
if (!runs.success) {
  console.error(`test:property: --runs must be a whole number from 1 to 100000 (got '${values.runs}')`);
  process.exit(2);
}
const r = spawnSync('npx', ['vitest', 'run', 'test/integration/reversals.property.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, PROPERTY_RUNS: String(runs.data) },
});
process.exit(r.status ?? 1);
