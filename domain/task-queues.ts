/**
 * The service's two worker pools and their task queues — the one place that names them.
 *
 * - `payments`: the transaction runs (payment, void, ACH reject, reversal) and their IMT
 *   posting / reversal activities. Its queue is TEMPORAL_TASK_QUEUE itself (contracts A:
 *   "task queue of the worker", default `imt-ic`), so the ingress, the operator CLI's run
 *   lists and any run started before the split all keep naming the same queue.
 * - `bulk`: everything that moves many records or may wait on a person or a webhook — the
 *   billing-cycle export, reconciliation, balance refresh, invoice adjustments, alerts and
 *   their digests. Its queue is TEMPORAL_TASK_QUEUE + `-bulk`.
 *
 * Pure (workflows derive the other pool's queue from their own with `bulkQueueFrom` /
 * `paymentsQueueFrom`): a service queue may therefore not itself end in `-bulk`
 * (common/config.ts refuses it).
 */
export const WORKER_POOLS = ['payments', 'bulk'] as const;
export type WorkerPool = (typeof WORKER_POOLS)[number];

export const BULK_QUEUE_SUFFIX = '-bulk';

export interface TaskQueues {
  payments: string;
  bulk: string;
}

/** Both pools' queues from the service's queue (TEMPORAL_TASK_QUEUE). */
export function taskQueuesOf(serviceQueue: string): TaskQueues {
  return { payments: serviceQueue, bulk: `${serviceQueue}${BULK_QUEUE_SUFFIX}` };
}

/** The task queue a pool polls, from the service's queue. */
export function taskQueueOfPool(serviceQueue: string, pool: WorkerPool): string {
  return taskQueuesOf(serviceQueue)[pool];
}

/** The bulk pool's queue, as seen from a run on either pool's queue. */
export function bulkQueueFrom(currentQueue: string): string {
  return currentQueue.endsWith(BULK_QUEUE_SUFFIX) ? currentQueue : `${currentQueue}${BULK_QUEUE_SUFFIX}`;
}

/** The payments pool's queue (= the service's queue), as seen from a run on either pool's queue. */
export function paymentsQueueFrom(currentQueue: string): string {
  return currentQueue.endsWith(BULK_QUEUE_SUFFIX)
    ? currentQueue.slice(0, -BULK_QUEUE_SUFFIX.length)
    : currentQueue;
}
