/**
 * Each pool's slots, pollers and cache, explicit (docs/decisions.md, "Two worker pools").
 *
 * - payments: many short, I/O-bound tasks (a posting waits on IMT, not on this CPU) whose
 *   latency is the product. Activity slots come from a resource-based tuner: at least 20
 *   always, more while the host's CPU and memory stay under their targets, so a burst of
 *   postings is not held back by a fixed count nor allowed to starve the host. Workflow
 *   tasks are short and fixed-size; pollers scale with the backlog the server reports.
 * - bulk: few, heavy activities (a 100,000-invoice extraction, a reconciliation, a balance
 *   refresh) whose memory is the risk. Fixed, small slot counts bound how many run at once,
 *   and so the pool's peak memory, by construction; two pollers each suffice for the rate
 *   at which such work arrives.
 *
 * Both pools' workers may run in one process (`npm start`) or apart (`imt-ic worker --pool`).
 */
import type { WorkerOptions } from '@temporalio/worker';
import type { WorkerPool } from '../domain';

export type PoolTuning = Pick<
  WorkerOptions,
  | 'tuner'
  | 'workflowTaskPollerBehavior'
  | 'activityTaskPollerBehavior'
  | 'maxCachedWorkflows'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentLocalActivityExecutions'
>;

/** Slot counts a reader can check against the decision record. */
export const POOL_SLOTS = {
  payments: {
    workflowTasks: 100,
    activitiesMin: 20,
    activitiesMax: 400,
    pollersMax: 20,
    cachedWorkflows: 200,
  },
  bulk: { workflowTasks: 10, activities: 4, pollers: 2, cachedWorkflows: 50 },
} as const;

/** Host targets of the payments pool's resource-based activity slots (fractions of the whole host). */
export const PAYMENTS_RESOURCE_TARGETS = { targetCpuUsage: 0.9, targetMemoryUsage: 0.8 } as const;

function paymentsTuning(): PoolTuning {
  const s = POOL_SLOTS.payments;
  return {
    tuner: {
      workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: s.workflowTasks },
      activityTaskSlotSupplier: {
        type: 'resource-based',
        minimumSlots: s.activitiesMin,
        maximumSlots: s.activitiesMax,
        rampThrottle: '10ms',
        tunerOptions: PAYMENTS_RESOURCE_TARGETS,
      },
      localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 10 },
      nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
    },
    workflowTaskPollerBehavior: { type: 'autoscaling', minimum: 2, initial: 4, maximum: s.pollersMax },
    activityTaskPollerBehavior: { type: 'autoscaling', minimum: 2, initial: 4, maximum: s.pollersMax },
    maxCachedWorkflows: s.cachedWorkflows,
  };
}

function bulkTuning(): PoolTuning {
  const s = POOL_SLOTS.bulk;
  return {
    tuner: {
      workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: s.workflowTasks },
      activityTaskSlotSupplier: { type: 'fixed-size', numSlots: s.activities },
      localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
      nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
    },
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: s.pollers },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: s.pollers },
    maxCachedWorkflows: s.cachedWorkflows,
  };
}

export const POOL_TUNING: Record<WorkerPool, () => PoolTuning> = {
  payments: paymentsTuning,
  bulk: bulkTuning,
};
