/**
 * Builds the Temporal workers: workflows from the bundle entry, activities from the
 * `createPoolActivities(deps, pool)` factory (each pool registers what its queue receives), one Worker per pool (domain/task-queues.ts) with that
 * pool's tuning (worker/pools.ts). Shared by `npm run worker`, `npm start`, tests and the
 * benchmark, so they all run exactly the same code.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createPoolActivities, type ActivityDeps } from '../activities';
import { IMT_ATTEMPT_TIMEOUT_MS, taskQueueOfPool, WORKER_POOLS, type WorkerPool } from '../domain';
import type { WorkerDataConverter } from '../common/data-protection';
import { prebuiltWorkflowBundle, WORKFLOWS_PATH } from './bundle';
import { POOL_TUNING, type PoolTuning } from './pools';

export { WORKFLOWS_PATH };
export type { WorkerPool };

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
  /** The service's queue (TEMPORAL_TASK_QUEUE); each pool polls its own queue derived from it. */
  taskQueue: string;
  /** Which pool this worker serves (default payments: the service's queue itself). */
  pool?: WorkerPool;
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
  /** Replaces the pool's tuning (worker/pools.ts) field by field; tests may shorten the shutdown grace. */
  tuning?: Partial<PoolTuning> & Pick<WorkerOptions, 'shutdownGraceTime'>;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const pool = opts.pool ?? 'payments';
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: taskQueueOfPool(opts.taskQueue, pool),
    workflowBundle: opts.workflowBundle ?? (await prebuiltWorkflowBundle()),
    activities: createPoolActivities(opts.deps, pool),
    dataConverter: opts.dataConverter,
    // Heartbeats reach the server at most every 80 % of the heartbeat timeout by default;
    // the export's progress (client/exports.ts reads the last heartbeat) would then lag by
    // 24 s. One small RPC every 2 s per heartbeating activity is cheap.
    maxHeartbeatThrottleInterval: '2 seconds',
    shutdownGraceTime: SHUTDOWN_GRACE_MS,
    ...POOL_TUNING[pool](),
    ...opts.tuning,
  });
}

/** The workers of several pools in one process (`npm start`, tests), run and stopped together. */
export interface PoolWorkers {
  readonly byPool: Partial<Record<WorkerPool, Worker>>;
  /** Runs every pool's worker until all have stopped (SIGINT/SIGTERM, or `shutdown`). */
  run(): Promise<void>;
  shutdown(): void;
  isRunning(): boolean;
}

/** One worker per pool named (default both), sharing the connection, bundle and deps. */
export async function createPoolWorkers(
  opts: Omit<CreateWorkerOptions, 'pool'> & {
    pools?: readonly WorkerPool[];
    tuningByPool?: Partial<Record<WorkerPool, Partial<PoolTuning>>>;
  },
): Promise<PoolWorkers> {
  const pools = opts.pools ?? WORKER_POOLS;
  const workflowBundle = opts.workflowBundle ?? (await prebuiltWorkflowBundle());
  const byPool: Partial<Record<WorkerPool, Worker>> = {};
  for (const pool of pools) {
    byPool[pool] = await createWorker({
      ...opts,
      pool,
      workflowBundle,
      tuning: { ...opts.tuning, ...opts.tuningByPool?.[pool] },
    });
  }
  const workers = Object.values(byPool);
  return {
    byPool,
    async run() {
      // One pool failing stops the others: the process then exits and is restarted whole.
      const runs = workers.map((w) => w.run());
      try {
        await Promise.all(runs);
      } finally {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await Promise.allSettled(runs);
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
    isRunning: () => workers.some((w) => w.getState() === 'RUNNING'),
  };
}
