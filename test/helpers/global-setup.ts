/**
 * Starts one real Temporal dev server (the project's CLI, in memory) for the whole test
 * run and bundles the workflow code once. Every test file then runs its own worker on
 * its own task queue against this server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../dev/temporal-server';
import { WORKFLOWS_PATH } from '../../worker/worker';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const env = await startDevServer({ log: (line) => process.stderr.write(`${line}\n`) });
  const address = env.connection.options.address;
  const outDir = path.resolve('test-output');
  fs.mkdirSync(outDir, { recursive: true });
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(outDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  process.stderr.write(
    `[test] Temporal dev server at ${address}; workflows bundled (${Date.now() - started} ms)\n`,
  );
  project.provide('temporalAddress', address);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await env.teardown();
  };
}
