/**
 * `createActivities(deps)` — the only way activities get their dependencies (HTTP
 * clients carrying credentials, the data directory, the logger). Secrets therefore
 * never travel as workflow or activity arguments, so they never land in history.
 */
import type { ActivityDeps } from './deps';
import { createPaymentActivities } from './payment';
import { createAlertActivities } from './alerts';
import { createExportActivities } from './export';
import { createReversalActivities } from './reversal';
import { createAdjustmentActivities } from './adjustment';
import { createBalanceActivities } from './balances';
import { createReconcileActivities } from './reconcile';

export type { ActivityDeps, ActivityMetrics } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPaymentActivities(deps),
    ...createAlertActivities(deps),
    ...createExportActivities(deps),
    ...createReversalActivities(deps),
    ...createAdjustmentActivities(deps),
    ...createBalanceActivities(deps),
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
