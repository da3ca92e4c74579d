/**
 * Builds the Temporal worker: workflows from the bundle entry, activities from the
 * `createActivities(deps)` factory. Shared by `npm run worker`, `npm start`, tests and
 * the benchmark, so they all run exactly the same code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

/** The workflow bundle entry, from sources (tsx, tests) or from the compiled build. */
export const WORKFLOWS_PATH = ['index.ts', 'index.js']
  .map((f) => path.join(__dirname, '..', 'workflows', f))
  .find((f) => fs.existsSync(f)) as string;

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Encrypting data converter (common/data-protection.ts); all clients and workers share its keys. */
  dataConverter?: WorkerOptions['dataConverter'];
  /** Pre-built bundle (tests build it once for all files); otherwise bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  tuning?: Pick<
    WorkerOptions,
    'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'
  >;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(opts.deps),
    dataConverter: opts.dataConverter,
    // Heartbeats reach the server at most every 80 % of the heartbeat timeout by default;
    // the export's progress (client/exports.ts reads the last heartbeat) would then lag by
    // 24 s. One small RPC every 2 s per heartbeating activity is cheap.
    maxHeartbeatThrottleInterval: '2 seconds',
    ...opts.tuning,
  });
}
