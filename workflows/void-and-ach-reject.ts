/**
 * Voids and ACH rejects (design §4; docs/decisions.md "Voids and ACH rejects").
 *
 * - `reversalEventWorkflow` — one per IC event, ID `void-<txid>` / `ach-reject-<txid>`
 *   (so IC's redeliveries are deduplicated). It finds out where the payment is and waits
 *   for it by signals, never by polling in a loop:
 *   never seen → AWAITING_PAYMENT until the payment run says `paymentArrived` (with a few
 *   widely spaced re-checks for the race where both arrive at once); being posted → checks
 *   the payment (customer, invoice, amount; echeck for an ACH reject), then either asks it
 *   to stop (`cancelPosting`) or, when they differ, parks both runs (`earlyEventMismatch`);
 *   then waits for `paymentClosed`. Posted → hands the reversal to `reversalWorkflow`.
 * - `reversalWorkflow` — ID `reversal-<txid>`, started as a child with REJECT_DUPLICATE:
 *   the workflow ID is the lock that makes "at most one reversal per transaction" hold
 *   whatever order a void and an ACH reject arrive in. It sends the reversal to IMT for the
 *   amount IMT confirmed, and parks in NEEDS_ATTENTION when IMT cannot take it (404/400).
 *
 * A payment that IMT may hold is never called "never posted": the payment run settles it
 * first (workflows/payment.ts), and a payment run that was terminated or dismissed while
 * IMT may hold it parks the event for a person.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PaymentRunLookup } from '../activities/void-and-ach-reject';
import {
  isLateReturn,
  IMT_ATTEMPT_TIMEOUT_MS,
  PaymentStatus,
  SA,
  transactionSearchAttributes,
  workflowIds,
  type AchRejectEvent,
  type PaymentClosedInput,
  type PaymentEvent,
  type PaymentRequest,
  type PaymentState,
  type ReversalEventInput,
  type ReversalEventState,
  type ReversalInput,
  type ReversalKind,
  type ReversalOutcome,
  cancelPostingSignal,
  earlyEventMismatchSignal,
  paymentArrivedSignal,
  paymentClosedSignal,
  reversalEventStateQuery,
  reversalStateQuery,
  eventDifferences,
} from '../domain';
import { raiseAlert } from './alerts';
import { operatorControls } from './operator-controls';
import { describeFailure, isAlreadyStarted } from './failures';
import { UNCERTAIN_POSTING_PATCH } from './payment';
import { reversalEventWorkflowV1, reversalWorkflowV1 } from './void-and-ach-reject-v1';

const { findPaymentRun } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

const { reversePayment } = proxyActivities<Activities>({
  startToCloseTimeout: IMT_ATTEMPT_TIMEOUT_MS,
  heartbeatTimeout: '15 seconds',
  // 5xx / 429 / network / 403 retry here with backoff (Retry-After and the 403 delay arrive
  // as nextRetryDelay); 400/404 stop and the workflow parks for a person. A repeat is safe:
  // IMT deduplicates (transaction_id, reversal_type) (contracts C3).
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
  },
});

/** Re-checks while a payment is unknown: the race where event and payment arrive together. */
const UNKNOWN_PAYMENT_CHECKS_MS = [5_000, 60_000, 15 * 60_000];
/** Fallback re-check while waiting for `paymentClosed` (payment runs started before issue 9 never send it). */
const CLOSE_CHECK_MIN_MS = 30_000;
const CLOSE_CHECK_MAX_MS = 10 * 60_000;
/**
 * Re-checks after a `paymentClosed` notice that found the payment run still open: the run
 * signals before it completes, so the notice usually overtakes its completion by a moment.
 * Without them the event waited out the fallback timer (30 s – 10 min) for nothing.
 */
export const AFTER_CLOSE_NOTICE_CHECKS_MS = [1_000, 3_000, 10_000];
export const CLOSE_NOTICE_RECHECK_PATCH = 'reversal-close-notice-recheck';
/** Bound on history: continue-as-new past this many events. */
const MAX_HISTORY_EVENTS = 2_000;

function now(): string {
  return new Date().toISOString();
}

function label(kind: ReversalKind): string {
  return kind === 'void' ? 'Void' : 'ACH reject';
}

/**
 * Why one long function: the event's state, its handlers and its waits (for the payment,
 * its outcome, a person) share one closure (Temporal's workflow style); the reversal itself
 * is `reversalWorkflow`, and the steps are named helpers.
 */
export async function reversalEventWorkflow(input: ReversalEventInput): Promise<ReversalEventState> {
  if (!patched(UNCERTAIN_POSTING_PATCH)) return reversalEventWorkflowV1(input);
  const { kind, event } = input;
  const txid = event.transaction_id;
  const self = workflowInfo().workflowId;
  const paymentId = workflowIds.payment(txid);
  const carried = input.carried;
  const state: ReversalEventState = carried?.state ?? {
    kind,
    transactionId: txid,
    status: PaymentStatus.RECEIVED,
    event,
    events: [{ at: input.receivedAt, event: `${label(kind)} received` }],
  };
  const record = (e: string, detail?: string) => {
    state.events.push({ at: now(), event: e, detail });
    if (state.events.length > 50) state.events.splice(1, state.events.length - 50);
  };
  const setStatus = (status: PaymentStatus, details?: string) => {
    if (state.status !== status) {
      state.status = status;
      upsertSearchAttributes([{ key: SA.PaymentStatus, value: status }]);
    }
    setCurrentDetails(`**${status}**${details ? `\n\n${details}` : ''}`);
  };
  /** What this run already told the payment run, so it is said once. */
  const told = { cancel: carried?.told.cancel ?? false, mismatch: carried?.told.mismatch ?? false };
  let alerted = carried?.alerted ?? false;
  let deadline = carried?.deadline ?? Date.parse(input.receivedAt) + input.unknownPaymentWaitMs;
  let arrived: PaymentRequest | undefined;
  let arrivalSignalled = false;
  let closed: PaymentClosedInput | undefined;
  setHandler(reversalEventStateQuery, () => state);
  setHandler(paymentArrivedSignal, (arg) => {
    arrivalSignalled = true;
    if (arg?.payment) arrived = arg.payment;
  });
  setHandler(paymentClosedSignal, (arg) => {
    closed = arg;
  });
  const controls = operatorControls(record);

  /** Parks for a person (one alert per cause); `wakeOn` resumes without one. */
  const park = async (why: string, wakeOn?: () => boolean): Promise<'retry' | 'dismiss' | 'woken'> => {
    setStatus(
      PaymentStatus.NEEDS_ATTENTION,
      `${why}\n\nSignal \`retry\` after fixing the cause, or \`dismiss\` with a reason.`,
    );
    state.lastError = { type: 'NeedsReview', message: why, at: now() };
    record('needs attention', why);
    if (!alerted) {
      alerted = true;
      await raiseAlert({
        key: `${self}:NEEDS_ATTENTION:${workflowInfo().runId}:${workflowInfo().historyLength}`,
        title: `${label(kind)} for payment ${txid} needs attention`,
        text: `${why}. Signal retry (after fixing the cause) or dismiss with a reason.`,
      });
    }
    const decision = await controls.awaitDecision(wakeOn);
    if (decision === 'dismiss') {
      state.closingReason = controls.dismissal;
      setStatus(PaymentStatus.DISMISSED);
    } else alerted = false;
    return decision;
  };

  const keepHistorySmall = async () => {
    if (workflowInfo().historyLength < MAX_HISTORY_EVENTS && !workflowInfo().continueAsNewSuggested) return;
    await continueAsNew<typeof reversalEventWorkflow>({
      ...input,
      carried: { state, told, alerted, deadline },
    });
  };

  // 1. Wait until the payment run has closed, telling it what this event is about.
  let payment: PaymentState | undefined;
  let unknownChecks = 0;
  let closeCheckMs = CLOSE_CHECK_MIN_MS;
  let noticeChecks = AFTER_CLOSE_NOTICE_CHECKS_MS.length;
  while (!payment) {
    if (!arrived && !arrivalSignalled && !closed) await keepHistorySmall();
    let lookup: PaymentRunLookup;
    if (arrived) {
      // The payment run told us itself (it waits for this event's verdict).
      lookup = { found: true, running: true, payment: arrived };
      arrived = undefined;
    } else {
      arrivalSignalled = false;
      if (closed !== undefined) noticeChecks = 0;
      closed = undefined;
      lookup = await findPaymentRun(txid);
    }
    if (!lookup.found) {
      if (Date.now() >= deadline) {
        const minutes = Math.round(input.unknownPaymentWaitMs / 60000);
        const decision = await park(
          `payment ${txid} was not received within ${minutes} min of the ${label(kind).toLowerCase()}`,
          () => arrivalSignalled, // a late payment still resolves it without a person
        );
        if (decision === 'dismiss') return state;
        deadline = Date.now() + input.unknownPaymentWaitMs;
        continue;
      }
      setStatus(PaymentStatus.AWAITING_PAYMENT, `Waiting for payment ${txid} to arrive from IC.`);
      const next = UNKNOWN_PAYMENT_CHECKS_MS[Math.min(unknownChecks++, UNKNOWN_PAYMENT_CHECKS_MS.length - 1)];
      await condition(
        () => arrivalSignalled || controls.dismissal !== undefined,
        Math.max(1, Math.min(next, deadline - Date.now())),
      );
      if (controls.dismissal !== undefined) {
        // A person knows this payment will not come: a dismissed event never applies to a later one.
        state.closingReason = controls.dismissal;
        setStatus(PaymentStatus.DISMISSED);
        return state;
      }
      continue;
    }
    if ('abnormal' in lookup) {
      // Terminated, reset or failed by hand: the run cannot tell what reached IMT.
      const decision = await park(
        `payment run ${paymentId} ended ${lookup.abnormal} without an outcome; IMT may hold the payment — check IMT, then retry (re-checks the payment run) or dismiss`,
      );
      if (decision === 'dismiss') return state;
      continue;
    }
    if (lookup.running) {
      const differences = lookup.payment ? eventDifferences(kind, event, lookup.payment) : [];
      if (differences.length > 0 && !told.mismatch) {
        told.mismatch = true;
        await getExternalWorkflowHandle(paymentId)
          .signal(earlyEventMismatchSignal, { requestedBy: self, differences })
          .catch(() => undefined); // closed meanwhile: the next lookup tells
        const why = `${label(kind)} does not match payment ${txid}: ${differences.join('; ')}. Both runs are parked`;
        setStatus(PaymentStatus.NEEDS_ATTENTION, why);
        record('does not match the payment', differences.join('; '));
        if (!alerted) {
          alerted = true;
          await raiseAlert({
            key: `${self}:MISMATCH`,
            title: `${label(kind)} for payment ${txid} does not match the payment`,
            text: `${why}: decide on the payment run (retry posts it, dismiss drops it), then dismiss this ${label(kind).toLowerCase()} or retry it.`,
          });
        }
      } else if (differences.length === 0 && !told.cancel) {
        told.cancel = true;
        record('asked the payment run to stop posting');
        await getExternalWorkflowHandle(paymentId)
          .signal(cancelPostingSignal, {
            reason: `${label(kind).toLowerCase()} received from IC`,
            requestedBy: self,
          })
          .catch(() => undefined);
      }
      if (!told.mismatch)
        setStatus(PaymentStatus.AWAITING_POSTING_OUTCOME, `Waiting for payment run ${paymentId} to settle.`);
      // The payment run signals `paymentClosed`; the timer only covers runs that cannot.
      // Parked on a mismatch, a person may also dismiss this event while the payment waits.
      const dismissed = () => told.mismatch && controls.dismissal !== undefined;
      const afterNotice =
        noticeChecks < AFTER_CLOSE_NOTICE_CHECKS_MS.length && patched(CLOSE_NOTICE_RECHECK_PATCH);
      if (afterNotice) {
        await condition(
          () => closed !== undefined || dismissed(),
          AFTER_CLOSE_NOTICE_CHECKS_MS[noticeChecks++],
        );
      } else {
        await condition(() => closed !== undefined || dismissed(), closeCheckMs);
        closeCheckMs = Math.min(closeCheckMs * 2, CLOSE_CHECK_MAX_MS);
      }
      if (dismissed()) {
        state.closingReason = controls.dismissal;
        setStatus(PaymentStatus.DISMISSED);
        return state;
      }
      continue;
    }
    payment = lookup.state;
  }
  state.paymentStatus = payment.status;

  // 2. Decide.
  if (payment.status !== PaymentStatus.POSTED) {
    if (
      payment.status === PaymentStatus.VOIDED_BEFORE_POSTING &&
      payment.cancelledBy &&
      payment.cancelledBy !== self
    ) {
      state.reversedBy = payment.cancelledBy.startsWith('void-') ? 'void' : 'ach_reject';
      state.resolution = 'already-reversed';
      record('payment was already stopped by another event; nothing sent', payment.cancelledBy);
      setStatus(PaymentStatus.ALREADY_REVERSED);
      return state;
    }
    // Dismissed or stopped while IMT may hold it (older runs: any attempt may have landed).
    const mayHold =
      payment.imtHolds === 'MAYBE' ||
      (payment.imtHolds === undefined && payment.status === PaymentStatus.DISMISSED && payment.attempts > 0);
    while (mayHold) {
      const decision = await park(
        `payment ${txid} closed ${payment.status} while IMT may hold it; check IMT's ledger, reverse by hand if it is there, then dismiss`,
      );
      if (decision === 'dismiss') return state;
    }
    state.resolution = 'nothing-posted';
    record(
      payment.settlement === 'imt-refused'
        ? 'IMT definitely refused the payment; nothing to reverse'
        : 'payment was never posted; nothing sent to IMT',
      payment.status,
    );
    setStatus(PaymentStatus.VOIDED_BEFORE_POSTING);
    return state;
  }

  const posted = payment.posted;
  const confirmed = { ...(payment.payment ?? event), ...(posted ?? {}) } as PaymentRequest;
  for (;;) {
    const problems = eventDifferences(kind, event, confirmed);
    if (problems.length === 0) break;
    if (
      (await park(`${label(kind)} does not match the posted payment: ${problems.join('; ')}`)) === 'dismiss'
    )
      return state;
  }

  const returnCode = kind === 'ach_reject' ? (event as AchRejectEvent).return_code : null;
  state.lateReturn =
    kind === 'ach_reject'
      ? isLateReturn(
          returnCode ?? '',
          payment.postedAt ?? input.receivedAt,
          (event as AchRejectEvent).returned_at,
        )
      : false;

  const reversalInput: ReversalInput = {
    kind,
    transactionId: txid,
    customer: confirmed.customer,
    invoiceNumber: confirmed.invoice_number,
    // The amount IMT confirmed: never more than what was posted.
    amount: posted?.amount ?? confirmed.amount,
    returnCode,
    message: event.message,
    lateReturn: state.lateReturn,
    requestedBy: self,
  };
  let child;
  try {
    child = await startChild(reversalWorkflow, {
      workflowId: workflowIds.reversal(txid),
      args: [reversalInput],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: transactionSearchAttributes(
        {
          transaction_id: txid,
          invoice_number: reversalInput.invoiceNumber,
          customer: reversalInput.customer,
        },
        PaymentStatus.REVERSING,
      ),
      staticSummary: `${label(kind)} reversal${returnCode ? ` ${returnCode}` : ''} · transaction ${txid}`,
    });
  } catch (err) {
    if (!isAlreadyStarted(err)) throw err;
    state.reversedBy = kind === 'void' ? 'ach_reject' : 'void';
    state.resolution = 'already-reversed';
    record('payment already reversed by the other event; no second reversal', workflowIds.reversal(txid));
    setStatus(PaymentStatus.ALREADY_REVERSED);
    return state;
  }
  setStatus(PaymentStatus.REVERSING);
  record('reversal started', child.workflowId);
  state.reversal = await child.result();
  state.resolution =
    payment.settlement === 'posted-to-settle' && payment.cancelledBy === self
      ? 'posted-to-settle-then-reversed'
      : 'reversed';
  setStatus(state.reversal.status);
  return state;
}

export async function reversalWorkflow(input: ReversalInput): Promise<ReversalOutcome> {
  if (!patched(UNCERTAIN_POSTING_PATCH)) return reversalWorkflowV1(input);
  const events: PaymentEvent[] = [{ at: now(), event: 'reversal requested', detail: input.requestedBy }];
  const outcome: ReversalOutcome = {
    kind: input.kind,
    status: PaymentStatus.REVERSING,
    amount: input.amount,
    returnCode: input.returnCode,
    lateReturn: input.lateReturn,
    attempts: 0,
    events,
  };
  const self = workflowInfo().workflowId;
  const record = (event: string, detail?: string) => events.push({ at: now(), event, detail });
  const setStatus = (status: PaymentStatus) => {
    if (outcome.status === status) return;
    outcome.status = status;
    upsertSearchAttributes([{ key: SA.PaymentStatus, value: status }]);
  };
  setHandler(reversalStateQuery, () => outcome);
  const controls = operatorControls(record);

  for (;;) {
    outcome.attempts += 1;
    try {
      const reversal = await reversePayment({
        customer: input.customer,
        invoice_number: input.invoiceNumber,
        transaction_id: input.transactionId,
        reversal_type: input.kind,
        return_code: input.returnCode,
        amount: input.amount,
        message: input.message,
        source: 'invoice_cloud',
      });
      outcome.imtReversalId = reversal.id;
      outcome.lastError = undefined;
      record('reversed in IMT', `IMT reversal id ${reversal.id}`);
      if (input.kind === 'void') setStatus(PaymentStatus.VOIDED);
      else if (input.lateReturn) {
        setStatus(PaymentStatus.LATE_RETURN);
        await raiseAlert({
          key: `${self}:LATE_RETURN`,
          title: `Late ACH return for payment ${input.transactionId}`,
          text: `Return ${input.returnCode} arrived after its NACHA window; the payment was reversed in IMT. Review with the bank.`,
        });
      } else setStatus(PaymentStatus.ACH_REJECTED);
      return outcome;
    } catch (err) {
      outcome.lastError = describeFailure(err).error;
      record('reversal failed', `${outcome.lastError.type}: ${outcome.lastError.message}`);
      setStatus(PaymentStatus.NEEDS_ATTENTION);
      await raiseAlert({
        key: `${self}:NEEDS_ATTENTION:${outcome.attempts}`,
        title: `Reversal of payment ${input.transactionId} needs attention`,
        text: `IMT did not accept the ${label(input.kind).toLowerCase()} reversal (${outcome.lastError.type}): ${outcome.lastError.message}. Fix the cause, then signal retry or dismiss.`,
      });
      if ((await controls.awaitDecision()) === 'dismiss') {
        outcome.closingReason = controls.dismissal;
        setStatus(PaymentStatus.DISMISSED);
        return outcome;
      }
      setStatus(PaymentStatus.REVERSING);
    }
  }
}
