/**
 * `createActivities(deps)` — the only way activities get their dependencies (HTTP
 * clients carrying credentials, the data directory, the logger). Secrets therefore
 * never travel as workflow or activity arguments, so they never land in history.
 *
 * Each pool's worker registers the activities its task queue receives, and only those
 * (`createPoolActivities`; domain/task-queues.ts names the pools): the payments queue's
 * transaction runs call `postPayment`, `reversePayment` and `findImtTransaction`; every
 * other activity is called by a run on the bulk queue (an activity runs on its workflow's
 * queue: no `proxyActivities` names another). test/unit/pool-activities.test.ts checks the
 * split against the workflows' sources.
 */
import type { WorkerPool } from '../domain';
import type { ActivityDeps } from './deps';
import { createPaymentActivities } from './payment';
import { createAlertActivities } from './alerts';
import { createExportActivities } from './export';
import { createReversalActivities } from './reversal';
import { createAdjustmentActivities } from './adjustment';
import { createBalanceActivities } from './balances';
import { createReconcileActivities } from './reconcile';

export type { ActivityDeps, ActivityMetrics } from './deps';

/** What the payments queue's runs call (workflows/transaction.ts). */
export type PaymentsActivities = ReturnType<typeof createPaymentActivities> &
  ReturnType<typeof createReversalActivities>;

/** What the bulk queue's runs call (export, reconciliation, balances, adjustments, alerts). */
export type BulkActivities = ReturnType<typeof createAlertActivities> &
  ReturnType<typeof createExportActivities> &
  ReturnType<typeof createAdjustmentActivities> &
  ReturnType<typeof createBalanceActivities> &
  ReturnType<typeof createReconcileActivities>;

/** Every activity of the service: what workflows type their `proxyActivities` with. */
export type Activities = PaymentsActivities & BulkActivities;

function createPaymentsActivities(deps: ActivityDeps): PaymentsActivities {
  return {
    ...createPaymentActivities(deps),
    ...createReversalActivities(deps),
  };
}

function createBulkActivities(deps: ActivityDeps): BulkActivities {
  return {
    ...createAlertActivities(deps),
    ...createExportActivities(deps),
    ...createAdjustmentActivities(deps),
    ...createBalanceActivities(deps),
    ...createReconcileActivities(deps),
  };
}

/** The activities one pool's queue receives: what that pool's worker registers. */
export function createPoolActivities(deps: ActivityDeps, pool: 'payments'): PaymentsActivities;
export function createPoolActivities(deps: ActivityDeps, pool: 'bulk'): BulkActivities;
export function createPoolActivities(
  deps: ActivityDeps,
  pool: WorkerPool,
): PaymentsActivities | BulkActivities;
export function createPoolActivities(
  deps: ActivityDeps,
  pool: WorkerPool,
): PaymentsActivities | BulkActivities {
  return pool === 'payments' ? createPaymentsActivities(deps) : createBulkActivities(deps);
}

/** Every activity (both pools'), e.g. for a test that calls one directly. */
export function createActivities(deps: ActivityDeps): Activities {
  return { ...createPaymentsActivities(deps), ...createBulkActivities(deps) };
}
