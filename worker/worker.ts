/**
 * Builds the Temporal worker: workflows from the bundle entry, activities from the
 * `createActivities(deps)` factory. Shared by `npm run worker`, `npm start`, tests and
 * the benchmark, so they all run exactly the same code.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { IMT_ATTEMPT_TIMEOUT_MS } from '../domain';
import type { WorkerDataConverter } from '../common/data-protection';
import { prebuiltWorkflowBundle, WORKFLOWS_PATH } from './bundle';

export { WORKFLOWS_PATH };

/**
 * How long a stopping worker lets running activities finish: longer than one IMT attempt
 * (its start-to-close), so a deploy does not cut a posting off mid-call and leave "IMT may hold
 * it" behind. Compose's stop_grace_period and Kubernetes' terminationGracePeriodSeconds must
 * exceed it (docker-compose.yml; test/unit/deploy.test.ts checks it).
 */
export const SHUTDOWN_GRACE_MS = IMT_ATTEMPT_TIMEOUT_MS + 5_000;

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /**
   * Encrypting data converter (common/data-protection.ts `workerDataConverter`): all clients and
   * workers share its keys; failures' messages and stacks are encrypted too.
   */
  dataConverter?: WorkerDataConverter;
  /**
   * Pre-built bundle (tests build it once for all files, the image ships one); otherwise the
   * cached bundle of the current sources (worker/bundle.ts), built on first use.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  tuning?: Pick<
    WorkerOptions,
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxCachedWorkflows'
    | 'shutdownGraceTime'
  >;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle ?? (await prebuiltWorkflowBundle()),
    activities: createActivities(opts.deps),
    dataConverter: opts.dataConverter,
    // Heartbeats reach the server at most every 80 % of the heartbeat timeout by default;
    // the export's progress (client/exports.ts reads the last heartbeat) would then lag by
    // 24 s. One small RPC every 2 s per heartbeating activity is cheap.
    maxHeartbeatThrottleInterval: '2 seconds',
    shutdownGraceTime: SHUTDOWN_GRACE_MS,
    ...opts.tuning,
  });
}
