/**
 * Daily reconciliation (issue 12): per transaction, what IC delivered to this service (its
 * own workflow records) against what IMT holds from IC for that biller day (contracts C4).
 * All data stays in this activity: both sides are paged, the differences stream into a CSV
 * report under DATA_DIR, and only a summary goes back to the workflow (and its history).
 *
 * Which of the service's runs belong to the day (docs/decisions.md "Reconciliation"): the
 * transaction runs (`payment-<txid>`, one per transaction) **started** during the day — a
 * run starts when IC delivers the payment — open (asleep while a void or ACH reject can
 * come, or still working) or closed; of a workflow ID listed more than once (continued as
 * new, reopened) the latest run stands. Its PaymentStatus says posted (POSTED, REVERSING,
 * REVERSED), reversed (REVERSED, whenever the reversal came), not posted (NOT_POSTED,
 * DISMISSED) or in flight (POSTING, MAYBE_POSTED, AWAITING_PAYMENT, NEEDS_ATTENTION, and
 * REVERSING for its reversal). All read from Temporal's visibility store (memo + search
 * attributes: no per-run call). The rare boundary cases are settled per transaction: a
 * posted run that IMT does not list for the day is checked against its exact posting time
 * (the run's `state` query, or a closed run's result), and a transaction IMT lists that was
 * not among the day's runs is looked up by its workflow ID.
 *
 * The pieces: reconcile-day.ts (the phases), reconcile-service-side.ts (visibility),
 * reconcile-compare.ts (the per-transaction rules), reconcile-report.ts (the CSV).
 */
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ReconcileDayInput, ReconcileSummary } from '../domain';
import type { ActivityDeps } from './deps';
import { reconcileOneDay } from './reconcile-day';

export function createReconcileActivities(deps: ActivityDeps) {
  const client = (): Client => {
    if (!deps.temporalClient)
      throw ApplicationFailure.nonRetryable('worker has no Temporal client configured', 'ConfigError');
    return deps.temporalClient;
  };

  return {
    /** Compares one biller day; writes the CSV report; returns its summary. */
    async reconcileDay(input: ReconcileDayInput): Promise<ReconcileSummary> {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const summary = await reconcileOneDay(deps, client(), input);
        deps.metrics?.reconciliation?.done('ok', seconds(), summary.byKind);
        deps.metrics?.scheduledJobSucceeded?.set('reconcile');
        return summary;
      } catch (err) {
        deps.metrics?.reconciliation?.done('error', seconds());
        throw err;
      }
    },
  };
}
