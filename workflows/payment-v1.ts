/**
 * FROZEN: the payment workflow as it was before the three-valued posting state (issue 9).
 * Runs that started under that code (no `uncertain-posting-v2` patch marker in their
 * history) keep replaying this exact code; see workflows/payment.ts and docs/decisions.md
 * "Deploying over running workflows". One change only, behind its own patch: a void that
 * stops a run whose earlier attempt may have reached IMT finishes the posting first.
 * Delete this file (and deprecate the patch) once no such run is open. Its lines repeat
 * workflows/payment.ts on purpose: a frozen copy must not share code that may change.
 */
/**
 * One workflow per IC payment transaction (ID `payment-<transaction_id>`): posts the
 * payment to IMT exactly once and never loses it.
 *
 * The workflow drives its own retry loop (each activity call is a single attempt)
 * instead of relying on the activity retry policy, for two reasons recorded in
 * docs/decisions.md: (1) a void that arrives while IMT is down must be able to stop the
 * posting *between* attempts, never while a request is in flight — so the workflow always
 * knows whether IMT may have the payment; (2) operators see every attempt, the last
 * error and the current state (RETRYING / AUTH_REJECTED) in queries and search attributes.
 *
 * Happy path cost: workflow start + one activity (+ one search-attribute upsert).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { sendAlertInRun } from './alerts';
import {
  NON_RETRYABLE_FAILURES,
  PaymentStatus,
  SA,
  type AttemptError,
  type FailureType,
  type PaymentOutcome,
  type PaymentState,
  type PaymentWorkflowInput,
  cancelPostingSignal,
  dismissSignal,
  paymentStateQuery,
  retrySignal,
} from '../domain';
import { describeFailure as readOutcome } from './failures';

/** The one behaviour change for runs on this frozen code (see the file comment). */
export const V1_SETTLE_BEFORE_VOID_PATCH = 'v1-settle-before-void';

const { postPayment } = proxyActivities<Activities>({
  // The IMT client times out at 10 s; the margin covers a busy worker. Kept short because
  // a lost attempt (worker died) is only retried after this timeout.
  startToCloseTimeout: '15 seconds',
  // One attempt per call: the loop below owns retries (see file comment).
  retry: { maximumAttempts: 1 },
});

/** Backoff between attempts: 1 s, 2 s, 4 s … capped at 5 minutes. */
export const RETRY_INITIAL_MS = 1000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
/** Keep histories small during a long outage (≈ 10 events per attempt). */
const MAX_ATTEMPTS_PER_RUN = 300;
const MAX_EVENTS_KEPT = 50;

/** Why long: a frozen copy of the code runs before issue 9 replay against; it must not change. */
export async function paymentWorkflowV1(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  const { payment } = input;
  const state: PaymentState = {
    transactionId: payment.transaction_id,
    status: PaymentStatus.RECEIVED,
    payment,
    attempts: input.carried?.attempts ?? 0,
    lastError: input.carried?.lastError,
    events: input.carried?.events ?? [{ at: input.receivedAt, event: 'received' }],
  };
  let attemptsThisRun = 0;
  // Pure bookkeeping (no commands): did an attempt end without a definite answer?
  let imtMayHold = false;
  let settling = false;
  let retryRequested = false;
  let dismissal: { reason: string; by?: string } | undefined;
  let cancellation: { reason: string; requestedBy: string } | undefined = input.cancelledBeforeArrival;
  if (cancellation)
    state.events.push({
      at: input.receivedAt,
      event: 'posting cancelled',
      detail: `${cancellation.requestedBy}: ${cancellation.reason}`,
    });

  const record = (event: string, detail?: string) => {
    state.events.push({ at: new Date().toISOString(), event, detail });
    if (state.events.length > MAX_EVENTS_KEPT) state.events.splice(1, state.events.length - MAX_EVENTS_KEPT);
  };
  const setStatus = (status: PaymentStatus) => {
    if (state.status === status) return;
    state.status = status;
    upsertSearchAttributes([{ key: SA.PaymentStatus, value: status }]);
    showDetails();
  };
  // "Current details" in the Temporal UI: what is happening and what a person can do.
  const showDetails = () => {
    const lines = [`**${state.status}** · attempt ${state.attempts}`];
    if (state.lastError) lines.push(`Last error (${state.lastError.type}): ${state.lastError.message}`);
    if (state.status === PaymentStatus.NEEDS_ATTENTION)
      lines.push('Fix the cause in IMT, then signal `retry`, or signal `dismiss` with `{"reason": "…"}`.');
    if (state.status === PaymentStatus.AUTH_REJECTED)
      lines.push("IMT refuses this service's X-Integrator-ID: rotate IMT_INTEGRATOR_ID; retries continue.");
    setCurrentDetails(lines.join('\n\n'));
  };

  setHandler(paymentStateQuery, () => state);
  setHandler(retrySignal, (args) => {
    retryRequested = true;
    record('retry requested', args?.by);
  });
  setHandler(dismissSignal, ({ reason, by }) => {
    if (state.status !== PaymentStatus.NEEDS_ATTENTION) {
      record(
        'dismiss ignored',
        `payment is ${state.status}, only a NEEDS_ATTENTION payment can be dismissed`,
      );
      return;
    }
    dismissal = { reason, by };
    record('dismissed', reason);
  });
  setHandler(cancelPostingSignal, ({ reason, requestedBy }) => {
    if (!cancellation) {
      cancellation = { reason, requestedBy };
      record('posting cancelled', `${requestedBy}: ${reason}`);
    }
  });

  const finish = (status: PaymentStatus, closingReason?: string): PaymentOutcome => {
    setStatus(status);
    state.closingReason = closingReason;
    return state;
  };

  for (;;) {
    if (cancellation && imtMayHold && !settling && patched(V1_SETTLE_BEFORE_VOID_PATCH)) {
      // IMT may hold the payment: finish the posting (idempotent, contracts C3) so that the
      // void / ACH reject reverses it, instead of calling it "never posted".
      settling = true;
      record('settling', 'IMT may hold this payment: finishing the posting before the reversal');
    }
    if (cancellation && !settling) {
      state.cancelledBy = cancellation.requestedBy;
      return finish(PaymentStatus.VOIDED_BEFORE_POSTING, cancellation.reason);
    }
    if (attemptsThisRun >= MAX_ATTEMPTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof paymentWorkflowV1>({
        ...input,
        carried: { attempts: state.attempts, lastError: state.lastError, events: state.events },
      });
    }

    state.attempts += 1;
    attemptsThisRun += 1;
    try {
      state.posted = await postPayment(payment);
      state.lastError = undefined;
      state.postedAt = new Date().toISOString();
      record('posted', `IMT payment id ${state.posted.id}`);
      return finish(PaymentStatus.POSTED);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const outcome = readOutcome(err);
      if (outcome.outcomeUnknown) imtMayHold = true;
      else if (outcome.definiteRejection) {
        imtMayHold = false;
        settling = false;
      }
      const failure = describeFailure(err);
      state.lastError = failure.error;
      record('attempt failed', `${failure.error.type}: ${failure.error.message}`);
      showDetails();

      if (failure.permanent) {
        // Not lost, not failed silently: park visibly until a person decides.
        setStatus(PaymentStatus.NEEDS_ATTENTION);
        retryRequested = false;
        await sendAlertInRun({
          key: `${workflowInfo().workflowId}:NEEDS_ATTENTION:${state.attempts}`,
          title: `Payment ${payment.transaction_id} needs attention`,
          text: `IMT rejected payment ${payment.amount} on invoice ${payment.invoice_number} (${failure.error.type}): ${failure.error.message}. Fix the cause, then signal retry or dismiss.`,
        }).catch(() => undefined);
        await condition(
          () => retryRequested || dismissal !== undefined || (cancellation !== undefined && !settling),
        );
        if (dismissal) return finish(PaymentStatus.DISMISSED, dismissal.reason);
        if (cancellation && !settling) continue;
        retryRequested = false;
        setStatus(PaymentStatus.RECEIVED);
        continue;
      }

      setStatus(failure.error.type === 'AuthRejected' ? PaymentStatus.AUTH_REJECTED : PaymentStatus.RETRYING);
      const delay = Math.max(failure.nextRetryDelayMs ?? 0, backoffMs(state.attempts));
      retryRequested = false;
      // Wake early for an operator's retry or a cancellation; never mid-request.
      await condition(() => retryRequested || (cancellation !== undefined && !settling), delay);
      retryRequested = false;
    }
  }
}

export function backoffMs(attempt: number): number {
  return Math.min(RETRY_INITIAL_MS * 2 ** Math.max(0, attempt - 1), RETRY_MAX_MS);
}

interface DescribedFailure {
  permanent: boolean;
  nextRetryDelayMs?: number;
  error: AttemptError;
}

function describeFailure(err: unknown): DescribedFailure {
  const at = new Date().toISOString();
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as {
      status?: number;
      reasons?: unknown;
      nextRetryDelayMs?: number;
    };
    const type = cause.type ?? 'Error';
    return {
      permanent: cause.nonRetryable || NON_RETRYABLE_FAILURES.includes(type as FailureType),
      nextRetryDelayMs: details.nextRetryDelayMs,
      error: { type, message: cause.message, status: details.status, reasons: details.reasons, at },
    };
  }
  // Timeouts (worker died mid-attempt, startToClose exceeded) are transient.
  const message = cause instanceof Error ? cause.message : String(cause);
  return { permanent: false, error: { type: cause instanceof Error ? cause.name : 'Error', message, at } };
}
