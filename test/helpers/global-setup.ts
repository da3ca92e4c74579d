/**
 * Starts one real Temporal dev server (the project's CLI, in memory) for the whole test
 * run — or, with TEST_TEMPORAL=cluster, a local Temporal cluster on PostgreSQL
 * (dev/cluster.ts) — and bundles the workflow code once. Every test file then runs its own worker on
 * its own task queue against this server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../dev/temporal-server';
import { startCluster } from '../../dev/cluster';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { FAILURE_CONVERTER_PATH } from '../../common/data-protection';
import { formatPayloadKeys, generatePayloadKey } from '../../common/payload-codec';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    /** 'cluster' when the run is against the PostgreSQL-backed cluster (TEST_TEMPORAL=cluster). */
    temporalKind: 'dev-server' | 'cluster';
    /** PAYLOAD_KEYS of this run: every client, worker and CLI process encrypts with them. */
    payloadKeys: string;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const kind = process.env.TEST_TEMPORAL === 'cluster' ? 'cluster' : 'dev-server';
  let address: string;
  let teardown: () => Promise<void>;
  if (kind === 'cluster') {
    // Under /tmp: PostgreSQL runs as a non-root user when the tests run as root.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-test-cluster-'));
    fs.chmodSync(dataDir, 0o755);
    const cluster = await startCluster({ dataDir, port: 0, log });
    address = cluster.address;
    log(`[test] Temporal cluster on PostgreSQL up in ${JSON.stringify(cluster.timings)} s`);
    teardown = async () => {
      await cluster.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    };
  } else {
    const env = await startDevServer({ log });
    address = env.connection.options.address;
    teardown = () => env.teardown();
  }
  const outDir = path.resolve('test-output');
  fs.mkdirSync(outDir, { recursive: true });
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(outDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  process.stderr.write(
    `[test] Temporal ${kind} at ${address}; workflows bundled (${Date.now() - started} ms)\n`,
  );
  project.provide('temporalAddress', address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalKind', kind);
  project.provide('payloadKeys', formatPayloadKeys([generatePayloadKey('test1')]));
  return teardown;
}
