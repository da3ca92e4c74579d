/**
 * `invoice-adjusted-<invoice_number>`: sends an invoice's new balance to IC after IMT
 * reports a change, and checks that IC shows it.
 *
 * IMT may report several changes in a row: they are signals to one running workflow
 * (signal-with-start by the ingress). The run waits for a quiet moment (`QUIET_PERIOD`,
 * at most `MAX_COLLECTING` while changes keep coming) and then sends IMT's *current*
 * balance once, so a burst becomes one upload and the last change always wins.
 *
 * After the upload it asks IC (ViewInvoiceByInvoiceNumber) until IC shows the same balance
 * and past-due amount (IC loads files asynchronously; the activity re-asks on its own). If
 * IC still disagrees the run parks in NEEDS_ATTENTION with one alert and waits for `retry`
 * (send and check again), `dismiss`, or a new change. IC refusing our credentials alerts
 * once and is retried slowly until fixed. A run that fails alerts.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions, RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import { callIcAlertingOnAuth } from './ic-calls';
import { failureMessageOf, failureTypeOf } from './failures';
import {
  AdjustmentStatus,
  FailureType,
  type BalanceCheckResult,
  type BalanceSyncResult,
  type InvoiceAdjustmentState,
  type OperatorAnswer,
  dismissUpdate,
  invoiceAdjustedSignal,
  invoiceAdjustmentStateQuery,
  retryUpdate,
} from '../domain';

export type { InvoiceAdjustmentState } from '../domain';

const SYNC_RETRY: RetryPolicy = {
  initialInterval: '2 seconds',
  maximumInterval: '2 minutes',
};
const SYNC_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '6 hours',
  retry: SYNC_RETRY,
};

const { syncInvoiceBalance: syncUntilAuthRejected, checkIcBalance: checkUntilAuthRejected } =
  proxyActivities<Activities>({
    ...SYNC_OPTIONS,
    // The check re-asks IC inside the activity (minutes by default).
    startToCloseTimeout: '1 hour',
    retry: {
      ...SYNC_RETRY,
      nonRetryableErrorTypes: [FailureType.AuthRejected],
    },
  });
const { syncInvoiceBalance: syncUntilCredentialsFixed, checkIcBalance: checkUntilCredentialsFixed } =
  proxyActivities<Activities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '1 minute',
    retry: SYNC_RETRY,
  });
/** A change followed by this much quiet is sent; more changes meanwhile join the same update. */
const QUIET_PERIOD_MS = 2_000;
/** A steady stream of changes still sends an update this often. */
const MAX_COLLECTING_MS = 30_000;
/** Idle this long after the last round: the run ends (a later change starts a new one). */
const IDLE_MS = 60_000;
/** Past this many events the run continues as new between rounds, so history stays bounded. */
const MAX_HISTORY_EVENTS = 2_000;

/**
 * Why one long function: the invoice's burst of changes, its handlers and the rounds
 * (collect → sync → verify) share one closure (Temporal's workflow style).
 */
export async function invoiceAdjustmentWorkflow(invoiceNumber: string): Promise<InvoiceAdjustmentState> {
  const state: InvoiceAdjustmentState = {
    invoiceNumber,
    status: AdjustmentStatus.COLLECTING,
    reasons: [],
    syncs: [],
    checks: [],
  };
  const info = workflowInfo();
  let changes = 0;
  let retryRequested = false;
  let dismissed: string | undefined;
  setHandler(invoiceAdjustedSignal, ({ reason }) => {
    changes += 1;
    if (reason && state.reasons.length < 50) state.reasons.push(reason);
  });
  // Operators: an Update each, refused without history unless the update needs attention.
  const parkedOnly = () => {
    if (state.status !== AdjustmentStatus.NEEDS_ATTENTION)
      throw ApplicationFailure.nonRetryable(
        `the balance update of invoice ${invoiceNumber} is ${state.status}; only a NEEDS_ATTENTION one can be retried or dismissed`,
        'WrongState',
      );
  };
  const answer = (): OperatorAnswer => ({ workflowId: info.workflowId, status: state.status ?? 'UNKNOWN' });
  setHandler(
    retryUpdate,
    (_by: { by?: string }) => {
      retryRequested = true;
      return answer();
    },
    { validator: (_by: { by?: string }) => parkedOnly() },
  );
  setHandler(
    dismissUpdate,
    async ({ reason }: { reason: string }) => {
      dismissed = reason;
      await condition(() => state.status === AdjustmentStatus.DISMISSED);
      return answer();
    },
    { validator: (_input: { reason: string }) => parkedOnly() },
  );
  setHandler(invoiceAdjustmentStateQuery, () => state);

  const setStatus = (status: AdjustmentStatus, detail?: string) => {
    state.status = status;
    setCurrentDetails(`**${status}** · invoice ${invoiceNumber}${detail ? `\n\n${detail}` : ''}`);
  };
  // Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts).
  const alert = async (title: string, text: string) => {
    const key = `${info.workflowId}:${info.runId}:${state.status}`;
    await raiseAlert({ key, title, text });
  };
  const onAuthRejected = async (message: string) => {
    setStatus(AdjustmentStatus.AUTH_REJECTED, message);
    state.lastError = { type: FailureType.AuthRejected, message };
    await alert(
      `Balance update of invoice ${invoiceNumber}: IC rejects the credentials`,
      `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the update resumes by itself.`,
    );
  };

  let handled = 0;
  try {
    for (;;) {
      // Wait for a change (the first came with the start); end when idle.
      if (!(await condition(() => changes > handled || retryRequested, IDLE_MS))) {
        await condition(allHandlersFinished);
        return state;
      }
      // The history length now, not at start (workflowInfo() is a snapshot).
      if (workflowInfo().historyLength > MAX_HISTORY_EVENTS && !retryRequested) {
        // Unhandled changes are signals again in the new run: the ingress's signal-with-start
        // and Temporal's rule that a run cannot close over unread signals keep them.
        await condition(allHandlersFinished);
        await continueAsNew<typeof invoiceAdjustmentWorkflow>(invoiceNumber);
      }
      retryRequested = false;
      setStatus(AdjustmentStatus.COLLECTING);
      const collectingSince = Date.now();
      for (;;) {
        const seen = changes;
        const left = MAX_COLLECTING_MS - (Date.now() - collectingSince);
        if (left <= 0 || !(await condition(() => changes !== seen, Math.min(QUIET_PERIOD_MS, left)))) break;
      }
      handled = changes;

      setStatus(AdjustmentStatus.SYNCING);
      const roundKey = `${info.runId.replace(/-/g, '')}-${state.syncs.length + 1}`;
      const sync: BalanceSyncResult = await callIcAlertingOnAuth(
        () => syncUntilAuthRejected(invoiceNumber, roundKey),
        () => syncUntilCredentialsFixed(invoiceNumber, roundKey),
        onAuthRejected,
      );
      state.syncs.push(sync);

      setStatus(AdjustmentStatus.VERIFYING, `balance ${sync.balanceDue}, past due ${sync.pastDue}`);
      const check: BalanceCheckResult = await callIcAlertingOnAuth(
        () => checkUntilAuthRejected(sync),
        () => checkUntilCredentialsFixed(sync),
        onAuthRejected,
      );
      state.checks?.push(check);
      if (state.checks && state.checks.length > 20) state.checks.splice(0, state.checks.length - 20);
      if (check.verified) {
        state.lastError = undefined;
        setStatus(AdjustmentStatus.VERIFIED, `IC shows ${sync.balanceDue} (past due ${sync.pastDue})`);
        continue;
      }

      const shown =
        check.icBalanceDue === null
          ? 'IC does not show the invoice'
          : `IC shows balance ${check.icBalanceDue}, past due ${check.icPastDue}`;
      const message = `sent balance ${sync.balanceDue}, past due ${sync.pastDue} (${sync.fileName}); after ${check.checks} checks ${shown}`;
      state.lastError = { type: 'IcBalanceMismatch', message };
      setStatus(AdjustmentStatus.NEEDS_ATTENTION, message);
      await alert(
        `Balance update of invoice ${invoiceNumber} needs attention: IC does not show IMT's balance`,
        `${message}. Check the invoice in IC, then signal \`retry\` (send and check again) or \`dismiss\` on ${info.workflowId}.`,
      );
      await condition(() => retryRequested || dismissed !== undefined || changes > handled);
      if (dismissed !== undefined) {
        state.closingReason = dismissed;
        setStatus(AdjustmentStatus.DISMISSED, dismissed);
        await condition(allHandlersFinished);
        return state;
      }
      // A retry or a new change: the next round sends IMT's current balance again.
      retryRequested = true;
    }
  } catch (err) {
    if (!isCancellation(err)) {
      const type = failureTypeOf(err) ?? 'Error';
      const message = failureMessageOf(err);
      state.lastError = { type, message };
      await alert(
        `Balance update of invoice ${invoiceNumber} failed`,
        `${type}: ${message}. IC may show an old balance for ${invoiceNumber}; a new change from IMT (or \`imt-ic\` re-sending it) starts a new update.`,
      );
    }
    throw err;
  }
}
