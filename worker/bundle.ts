/**
 * Builds the workflow bundle ahead of time (the container image ships it, so a worker starts
 * without webpack work): `node lib/worker/bundle.js <out.js>`. Workers load it through
 * WORKFLOW_BUNDLE_PATH.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './worker';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
  fs.writeFileSync(out, code);
  process.stdout.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB)\n`);
}

main().catch((err) => {
  process.stderr.write(`bundling failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
