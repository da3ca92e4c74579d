/**
 * One workflow per IC payment transaction (ID `payment-<transaction_id>`): posts the
 * payment to IMT exactly once and never loses it.
 *
 * The workflow drives its own retry loop (each activity call is a single attempt)
 * instead of relying on the activity retry policy, for two reasons recorded in
 * docs/decisions.md: (1) a void that arrives while IMT is down must be able to stop the
 * posting *between* attempts, never while a request is in flight; (2) operators see every
 * attempt, the last error and the current state in queries and search attributes.
 *
 * Three-valued posting state (`imtHolds`, issue 9): an attempt whose outcome is unknown
 * (timeout after sending, reset, 5xx, a worker that died, a 2xx we could not read) means
 * IMT MAY hold the payment. A void / ACH reject that stops such a run never gets "never
 * posted": the run finishes the posting idempotently (SETTLING, contracts C3) so the event
 * can reverse it — or learns from a definite refusal that nothing was applied.
 *
 * Early voids / ACH rejects are checked, never trusted: the run tells each event that was
 * waiting (`paymentArrived`) and waits briefly for its verdict — `cancelPosting` when it
 * matches, `earlyEventMismatch` (park for a person) when it does not. When it closes it
 * tells every waiting event (`paymentClosed`), so nobody polls it.
 *
 * Happy path cost: workflow start + patch marker + one activity (+ one search-attribute upsert).
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import { describeFailure } from './failures';
import {
  AlertGroup,
  IMT_ATTEMPT_TIMEOUT_MS,
  PaymentStatus,
  SA,
  INTAKE_SETTLED_STATUSES,
  samePayment,
  type CancelPostingInput,
  type EarlyEventMismatch,
  type PaymentOutcome,
  type PaymentState,
  type PaymentWorkflowInput,
  type SettledDelivery,
  cancelPostingSignal,
  dismissSignal,
  earlyEventMismatchSignal,
  earlyEventSignal,
  paymentArrivedSignal,
  paymentClosedSignal,
  paymentSettledUpdate,
  paymentStateQuery,
  retrySignal,
} from '../domain';
import { paymentWorkflowV1 } from './payment-v1';

/** Runs that started before issue 9 lack this marker and replay workflows/payment-v1.ts. */
export const UNCERTAIN_POSTING_PATCH = 'uncertain-posting-v2';
/**
 * An early event's verdict (`earlyEventMismatch` / `cancelPosting`) can overtake the
 * acknowledgement of this run's `paymentArrived` to it (or the event found this run by
 * itself first): a verdict already given is not waited for again — before, the run then
 * waited out the full EARLY_EVENT_VERDICT_WAIT (a minute) before parking.
 */
export const EARLY_VERDICT_FIRST_PATCH = 'early-verdict-before-asking';
/**
 * A failed attempt while IMT answers other calls 2xx (the failure's `serviceAnswering`) is a
 * one-off, not an outage: the next attempt comes within ONE_OFF_RETRY_MAX_MS instead of up to
 * RETRY_MAX_MS. Before, attempts piled up during an outage kept their long backoff after IMT
 * was back, so a MAYBE_POSTED payment hit by one more random 5xx waited 5 minutes, then 5
 * more (the chaos run's stragglers). An outage keeps the long cap: nothing answers 2xx then,
 * so retries never storm a partner that is down.
 */
export const ONE_OFF_FAILURE_PATCH = 'short-backoff-while-imt-answers';
/**
 * A failed attempt that fits the worker's retry budget (the failure's `withinRetryBudget`:
 * few postings failed there in the last minute) is a one-off too, whatever IMT answers
 * other calls. Before, on a quiet system — nothing else calling IMT — a payment left at a
 * high attempt count waited 5 minutes per random failure (the chaos run's settling tail).
 * Many failures (an outage) keep the long cap, so the quick retries stay bounded.
 */
export const RETRY_BUDGET_PATCH = 'short-backoff-within-retry-budget';

const { postPayment } = proxyActivities<Activities>({
  // Longer than the longest IMT timeout by construction (IMT_TIMEOUT_MS ≤ IMT_TIMEOUT_MAX_MS);
  // a dead worker is noticed by the heartbeat timeout instead (the activity heartbeats
  // only when a request is slow, so the happy path costs nothing).
  startToCloseTimeout: IMT_ATTEMPT_TIMEOUT_MS,
  heartbeatTimeout: '15 seconds',
  // One attempt per call: the loop below owns retries (see file comment).
  retry: { maximumAttempts: 1 },
});

/** Backoff between attempts: 1 s, 2 s, 4 s … capped at 5 minutes (30 s for a one-off failure). */
export const RETRY_INITIAL_MS = 1000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
export const ONE_OFF_RETRY_MAX_MS = 30 * 1000;
/** Keep histories small during a long outage (≈ 10 events per attempt). */
const MAX_ATTEMPTS_PER_RUN = 200;
const MAX_EVENTS_KEPT = 50;
/** How long an early event gets to answer `paymentArrived` before the posting goes ahead. */
const EARLY_EVENT_VERDICT_WAIT = '1 minute';

/**
 * Why one long function: the run's state, its signal / query / update handlers and the
 * posting loop share one closure (Temporal's workflow style); each step of the loop is a
 * named helper below, and splitting the closure would only pass the state around.
 */
export async function paymentWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  if (!patched(UNCERTAIN_POSTING_PATCH)) return paymentWorkflowV1(input);
  const { payment } = input;
  const self = workflowInfo().workflowId;
  const carried = input.carried;
  const state: PaymentState = {
    transactionId: payment.transaction_id,
    status: PaymentStatus.RECEIVED,
    payment,
    attempts: carried?.attempts ?? 0,
    lastError: carried?.lastError,
    // A run continued from pre-issue-9 code carries no `imtHolds`: any earlier attempt may have landed.
    imtHolds: carried?.imtHolds ?? ((carried?.attempts ?? 0) > 0 ? 'MAYBE' : 'NO'),
    events: carried?.events ?? [{ at: input.receivedAt, event: 'received' }],
  };
  let attemptsThisRun = 0;
  let retryRequested = false;
  let authAlerted = false;
  /** Some attempt had an unknown outcome (kept even after IMT later refused it for sure). */
  let wasUncertain = state.imtHolds === 'MAYBE';
  let dismissal: { reason: string; by?: string } | undefined;
  let cancellation: CancelPostingInput | undefined = carried?.cancellation ?? input.cancelledBeforeArrival;
  let mismatch: EarlyEventMismatch | undefined;
  /** Events to tell when this run closes: early events, and every event that asked to stop it. */
  const waiting = new Set<string>(carried?.waiting ?? []);
  /** Early events that have not answered `paymentArrived` yet. */
  const verdictPending = new Set<string>();
  /** Events that gave their verdict (stop, or does not match), whenever it came. */
  const verdictGiven = new Set<string>();

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
    const lines = [`**${state.status}** · attempt ${state.attempts} · IMT holds it: ${state.imtHolds}`];
    if (state.lastError) lines.push(`Last error (${state.lastError.type}): ${state.lastError.message}`);
    if (state.mismatch)
      lines.push(`${state.mismatch.requestedBy} does not match: ${state.mismatch.differences.join('; ')}`);
    if (state.imtHolds === 'MAYBE')
      lines.push(
        'IMT may hold this payment: an attempt got no definite answer. Retries use the same transaction_id.',
      );
    if (state.status === PaymentStatus.NEEDS_ATTENTION)
      lines.push('Fix the cause in IMT, then signal `retry`, or signal `dismiss` with `{"reason": "…"}`.');
    if (state.status === PaymentStatus.AUTH_REJECTED)
      lines.push("IMT refuses this service's X-Integrator-ID: rotate IMT_INTEGRATOR_ID; retries continue.");
    setCurrentDetails(lines.join('\n\n'));
  };

  setHandler(paymentStateQuery, () => state);
  setHandler(
    paymentSettledUpdate,
    async () => {
      await condition(() => INTAKE_SETTLED_STATUSES.includes(state.status));
      return state;
    },
    {
      // The second argument (the delivery's fingerprint) only matters to an awaited payment.
      validator: (delivered, _delivery?: SettledDelivery) => {
        if (!samePayment(delivered, payment))
          throw new Error(
            `transaction ${payment.transaction_id} was already received with different content`,
          );
      },
    },
  );
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
  setHandler(cancelPostingSignal, (req) => {
    verdictGiven.add(req.requestedBy);
    verdictPending.delete(req.requestedBy);
    waiting.add(req.requestedBy);
    if (!cancellation) {
      cancellation = req;
      record('posting cancelled', `${req.requestedBy}: ${req.reason}`);
    }
  });
  // An event's intake did not see this run yet (a race at the door): the event finds this
  // run itself and asks it to stop, or reverses the posting. Recorded only.
  setHandler(earlyEventSignal, ({ eventId }) => record('event arrived together with the payment', eventId));
  setHandler(earlyEventMismatchSignal, (m) => {
    verdictGiven.add(m.requestedBy);
    verdictPending.delete(m.requestedBy);
    waiting.add(m.requestedBy);
    if (!mismatch) {
      mismatch = m;
      record('early event does not match', `${m.requestedBy}: ${m.differences.join('; ')}`);
    }
  });

  /** Tells every waiting event that this run is closing, then closes. */
  const finish = async (status: PaymentStatus, closingReason?: string): Promise<PaymentOutcome> => {
    setStatus(status);
    state.closingReason = closingReason;
    for (const id of waiting) {
      await getExternalWorkflowHandle(id)
        .signal(paymentClosedSignal, { status })
        .catch(() => undefined); // closed or dismissed meanwhile: nothing waits any more
    }
    // Let the ingress's `settled` update answer before the run closes.
    await condition(allHandlersFinished);
    return state;
  };

  // Early events: tell each one, then give it a moment to say whether it matches.
  if (input.earlyEvents?.length && !carried) {
    const verdictMayComeFirst = patched(EARLY_VERDICT_FIRST_PATCH);
    for (const id of input.earlyEvents) {
      try {
        await getExternalWorkflowHandle(id).signal(paymentArrivedSignal, { payment });
        if (!(verdictMayComeFirst && verdictGiven.has(id))) verdictPending.add(id);
        waiting.add(id);
      } catch {
        record('early event already closed; it does not apply', id);
      }
    }
    if (verdictPending.size > 0) {
      record('waiting for the early events to check the payment', [...verdictPending].join(', '));
      await condition(
        () => verdictPending.size === 0 || cancellation !== undefined,
        EARLY_EVENT_VERDICT_WAIT,
      );
    }
  }

  for (;;) {
    if (cancellation) {
      state.cancelledBy = cancellation.requestedBy;
      if (state.imtHolds === 'NO') {
        state.settlement = wasUncertain ? 'imt-refused' : 'never-sent';
        return finish(PaymentStatus.VOIDED_BEFORE_POSTING, cancellation.reason);
      }
      // IMT may hold it: finish the posting (idempotent, C3) so the event can reverse it.
      if (state.status !== PaymentStatus.SETTLING) {
        record('settling', 'IMT may hold this payment: finishing the posting before the reversal');
        setStatus(PaymentStatus.SETTLING);
      }
    } else if (mismatch) {
      // Never post over an event that disagrees, never cancel silently: a person decides.
      state.mismatch = mismatch;
      setStatus(PaymentStatus.NEEDS_ATTENTION);
      retryRequested = false;
      await condition(() => retryRequested || dismissal !== undefined || cancellation !== undefined);
      if (dismissal) return finish(PaymentStatus.DISMISSED, dismissal.reason);
      if (cancellation) continue;
      record('posting despite the mismatching event', mismatch.requestedBy);
      retryRequested = false;
      mismatch = undefined;
      setStatus(PaymentStatus.RECEIVED);
    }
    if (attemptsThisRun >= MAX_ATTEMPTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof paymentWorkflow>({
        ...input,
        carried: {
          attempts: state.attempts,
          lastError: state.lastError,
          events: state.events,
          imtHolds: state.imtHolds,
          cancellation,
          waiting: [...waiting],
        },
      });
    }

    state.attempts += 1;
    attemptsThisRun += 1;
    try {
      state.posted = await postPayment(payment);
      state.imtHolds = 'YES';
      state.lastError = undefined;
      state.postedAt = new Date().toISOString();
      if (cancellation) state.settlement = 'posted-to-settle';
      record('posted', `IMT payment id ${state.posted.id}`);
      return finish(PaymentStatus.POSTED);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = describeFailure(err);
      if (failure.outcomeUnknown) {
        state.imtHolds = 'MAYBE';
        wasUncertain = true;
      } else if (failure.definiteRejection) state.imtHolds = 'NO';
      state.lastError = failure.error;
      record('attempt failed', `${failure.error.type}: ${failure.error.message}`);
      showDetails();

      if (failure.permanent) {
        // A void that waits on a payment IMT definitely refused: nothing was applied.
        if (cancellation && state.imtHolds === 'NO') continue;
        // Not lost, not failed silently: park visibly until a person decides.
        setStatus(PaymentStatus.NEEDS_ATTENTION);
        retryRequested = false;
        await raiseAlert({
          key: `${self}:NEEDS_ATTENTION:${state.attempts}`,
          title: `Payment ${payment.transaction_id} needs attention`,
          text: `IMT did not take payment ${payment.amount} on invoice ${payment.invoice_number} (${failure.error.type}): ${failure.error.message}.${
            state.imtHolds === 'MAYBE' ? ' IMT MAY HOLD this payment.' : ''
          } Fix the cause, then signal retry or dismiss.`,
        });
        await condition(
          () =>
            retryRequested ||
            dismissal !== undefined ||
            // A void for a payment IMT may hold waits for a person's retry (settle) or dismiss.
            (cancellation !== undefined && state.imtHolds === 'NO'),
        );
        if (dismissal) return finish(PaymentStatus.DISMISSED, dismissal.reason);
        if (!retryRequested) continue;
        retryRequested = false;
        setStatus(cancellation ? PaymentStatus.SETTLING : PaymentStatus.RECEIVED);
        continue;
      }

      if (failure.error.type === 'AuthRejected') {
        setStatus(PaymentStatus.AUTH_REJECTED);
        if (!authAlerted) {
          authAlerted = true;
          await raiseAlert(
            {
              key: `${self}:${workflowInfo().runId}:AUTH_REJECTED`,
              title: `IMT rejects this service's credentials (payment ${payment.transaction_id})`,
              text: `IMT answered 403 to the X-Integrator-ID while posting payment ${payment.transaction_id}: rotate IMT_INTEGRATOR_ID. Retries continue slowly; nothing is lost.`,
            },
            AlertGroup.ImtAuthRejected,
          );
        }
      } else
        setStatus(
          cancellation
            ? PaymentStatus.SETTLING
            : state.imtHolds === 'MAYBE'
              ? PaymentStatus.MAYBE_POSTED
              : PaymentStatus.RETRYING,
        );
      // A 429's Retry-After or a 403's slow retry still wins (the larger of the two).
      // Each patch is asked only when its detail says "one-off", so older histories replay alike.
      const oneOff =
        (failure.serviceAnswering === true && patched(ONE_OFF_FAILURE_PATCH)) ||
        (failure.withinRetryBudget === true && patched(RETRY_BUDGET_PATCH));
      const cap = oneOff ? ONE_OFF_RETRY_MAX_MS : RETRY_MAX_MS;
      const delay = Math.max(failure.nextRetryDelayMs ?? 0, backoffMs(state.attempts, cap));
      retryRequested = false;
      const cancelledAlready = cancellation !== undefined;
      // Wake early for an operator's retry, a cancellation or a mismatch; never mid-request.
      await condition(
        () => retryRequested || (!cancelledAlready && cancellation !== undefined) || mismatch !== undefined,
        delay,
      );
      retryRequested = false;
    }
  }
}

export function backoffMs(attempt: number, capMs = RETRY_MAX_MS): number {
  return Math.min(RETRY_INITIAL_MS * 2 ** Math.max(0, attempt - 1), capMs);
}
