/**
 * FROZEN: voids and ACH rejects as they were before issue 9 (polling for the payment run).
 * Runs without the `uncertain-posting-v2` patch marker replay this code; see
 * workflows/void-and-ach-reject.ts. Delete once no such run is open. Its lines repeat that
 * file on purpose: a frozen copy must not share code that may change.
 */
/**
 * Voids and ACH rejects (design §4; docs/decisions.md "Voids and ACH rejects").
 *
 * - `reversalEventWorkflow` — one per IC event, ID `void-<txid>` / `ach-reject-<txid>`
 *   (so IC's redeliveries are deduplicated). It finds out where the payment is:
 *   never seen → waits for it (default 24 h); still being posted → asks the payment run
 *   to stop between attempts (`cancelPosting`) and waits for it to close; posted → hands
 *   the reversal to `reversalWorkflow`.
 * - `reversalWorkflow` — ID `reversal-<txid>`, started as a child with REJECT_DUPLICATE:
 *   the workflow ID is the lock that makes "at most one reversal per transaction" hold
 *   whatever order a void and an ACH reject arrive in. It sends the reversal to IMT and
 *   parks in NEEDS_ATTENTION when IMT cannot take it (404/400).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { sendAlertInRun } from './alerts';
import { isAlreadyStarted } from './failures';
import {
  isLateReturn,
  NON_RETRYABLE_FAILURES,
  PaymentStatus,
  SA,
  workflowIds,
  type AchRejectEvent,
  type AttemptError,
  type PaymentEvent,
  type PaymentState,
  type ReversalEventInput,
  type ReversalEventState,
  type ReversalInput,
  type ReversalKind,
  type ReversalOutcome,
  cancelPostingSignal,
  dismissSignal,
  paymentArrivedSignal,
  retrySignal,
  reversalEventStateQuery,
  reversalStateQuery,
  toCents,
} from '../domain';

const { lookupPaymentRun } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

const { reversePayment } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // 5xx / 429 / network / 403 retry here with backoff (Retry-After and the 403 delay arrive
  // as nextRetryDelay); 400/404 stop and the workflow parks for a person.
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES, 'InvalidResponse'],
  },
});

const MAX_POLL_MS = 15 * 60 * 1000;

function now(): string {
  return new Date().toISOString();
}

function label(kind: ReversalKind): string {
  return kind === 'void' ? 'Void' : 'ACH reject';
}

function toAttemptError(err: unknown): AttemptError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { status?: number; reasons?: unknown };
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      status: details.status,
      reasons: details.reasons,
      at: now(),
    };
  }
  return { type: 'Error', message: cause instanceof Error ? cause.message : String(cause), at: now() };
}

/** Shared by both workflows: wait for an operator's `retry` or `dismiss`. */
function operatorControls(record: (event: string, detail?: string) => void) {
  let retry = false;
  let dismissal: string | undefined;
  setHandler(retrySignal, (args) => {
    retry = true;
    record('retry requested', args?.by);
  });
  setHandler(dismissSignal, ({ reason }) => {
    dismissal = reason;
    record('dismissed', reason);
  });
  return {
    /** `wakeOn` lets a parked run resume by itself when what it waited for happens. */
    async awaitDecision(wakeOn: () => boolean = () => false): Promise<'retry' | 'dismiss'> {
      retry = false;
      await condition(() => retry || dismissal !== undefined || wakeOn());
      return dismissal !== undefined ? 'dismiss' : 'retry';
    },
    get dismissal() {
      return dismissal;
    },
  };
}

/** Why long: a frozen copy of the code runs before issue 9 replay against; it must not change. */
export async function reversalEventWorkflowV1(input: ReversalEventInput): Promise<ReversalEventState> {
  const { kind, event } = input;
  const txid = event.transaction_id;
  const self = workflowInfo().workflowId;
  const state: ReversalEventState = {
    kind,
    transactionId: txid,
    status: PaymentStatus.RECEIVED,
    event,
    events: [{ at: input.receivedAt, event: `${label(kind)} received` }],
  };
  const record = (e: string, detail?: string) => state.events.push({ at: now(), event: e, detail });
  const setStatus = (status: PaymentStatus) => {
    if (state.status === status) return;
    state.status = status;
    upsertSearchAttributes([{ key: SA.PaymentStatus, value: status }]);
  };
  let arrived = false;
  setHandler(reversalEventStateQuery, () => state);
  setHandler(paymentArrivedSignal, () => {
    arrived = true;
  });
  const controls = operatorControls(record);

  const park = async (why: string, wakeOn?: () => boolean): Promise<'retry' | 'dismiss'> => {
    setStatus(PaymentStatus.NEEDS_ATTENTION);
    state.lastError = { type: 'NeedsReview', message: why, at: now() };
    record('needs attention', why);
    await sendAlertInRun({
      key: `${self}:NEEDS_ATTENTION:${state.events.length}`,
      title: `${label(kind)} for payment ${txid} needs attention`,
      text: `${why}. Signal retry (after fixing the cause) or dismiss with a reason.`,
    }).catch(() => undefined);
    const decision = await controls.awaitDecision(wakeOn);
    if (decision === 'dismiss') {
      state.closingReason = controls.dismissal;
      setStatus(PaymentStatus.DISMISSED);
    }
    return decision;
  };

  // 1. Wait until the payment run has closed (posted, cancelled or dismissed).
  let deadline = Date.now() + input.unknownPaymentWaitMs;
  let pollMs = 2000;
  let cancelRequested = false;
  let payment: PaymentState | undefined;
  while (!payment) {
    const lookup = await lookupPaymentRun(txid);
    if (!lookup.found) {
      if (Date.now() >= deadline) {
        arrived = false;
        const decision = await park(
          `payment ${txid} was not received within ${Math.round(input.unknownPaymentWaitMs / 60000)} min of the ${label(kind).toLowerCase()}`,
          () => arrived, // a late payment still resolves it without a person
        );
        if (decision === 'dismiss') return state;
        setStatus(PaymentStatus.AWAITING_PAYMENT);
        deadline = Date.now() + input.unknownPaymentWaitMs;
        continue;
      }
      setStatus(PaymentStatus.AWAITING_PAYMENT);
      arrived = false;
      // The ingress signals `paymentArrived`; polling covers the race where both arrive at once.
      await condition(() => arrived, Math.max(1, Math.min(pollMs, deadline - Date.now())));
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      continue;
    }
    if (lookup.running) {
      if (!cancelRequested) {
        cancelRequested = true;
        record('asked the payment run to stop posting');
        await getExternalWorkflowHandle(workflowIds.payment(txid))
          .signal(cancelPostingSignal, {
            reason: `${label(kind).toLowerCase()} received from IC`,
            requestedBy: self,
          })
          .catch(() => undefined); // it may have closed meanwhile: the next lookup tells
      }
      // The payment run stops at its next attempt boundary (at most one IMT timeout away).
      await sleep(500);
      continue;
    }
    payment = lookup.state;
  }
  state.paymentStatus = payment.status;

  // 2. Decide.
  if (payment.status !== PaymentStatus.POSTED) {
    // Never posted: nothing to reverse in IMT.
    if (
      payment.status === PaymentStatus.VOIDED_BEFORE_POSTING &&
      payment.cancelledBy &&
      payment.cancelledBy !== self
    ) {
      state.reversedBy = payment.cancelledBy.startsWith('void-') ? 'void' : 'ach_reject';
      record('payment was already stopped by another event; nothing sent', payment.cancelledBy);
      setStatus(PaymentStatus.ALREADY_REVERSED);
      return state;
    }
    record('payment was never posted; nothing sent to IMT', payment.status);
    setStatus(PaymentStatus.VOIDED_BEFORE_POSTING);
    return state;
  }

  const posted = payment.payment;
  for (;;) {
    const problems: string[] = [];
    if (posted && toCents(posted.amount) !== toCents(event.amount))
      problems.push(`amount ${event.amount} differs from the posted payment's ${posted.amount}`);
    if (kind === 'ach_reject' && posted && posted.payment_method !== 'echeck')
      problems.push(
        `an ACH reject for a ${posted.payment_method} payment (only echeck payments can be returned)`,
      );
    if (problems.length === 0) break;
    if ((await park(problems.join('; '))) === 'dismiss') return state;
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
    customer: posted?.customer ?? event.customer,
    invoiceNumber: posted?.invoice_number ?? event.invoice_number,
    // Never more than what was posted.
    amount: posted?.amount ?? event.amount,
    returnCode,
    message: event.message,
    lateReturn: state.lateReturn,
    requestedBy: self,
  };
  let child;
  try {
    // The workflow type stays `reversalWorkflow` (a string): old histories name it so.
    child = await startChild<typeof reversalWorkflowV1>('reversalWorkflow', {
      workflowId: workflowIds.reversal(txid),
      args: [reversalInput],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SA.TransactionId, value: txid },
        { key: SA.InvoiceNumber, value: reversalInput.invoiceNumber },
        { key: SA.CustomerId, value: reversalInput.customer },
        { key: SA.PaymentStatus, value: PaymentStatus.REVERSING },
      ],
      staticSummary: `${label(kind)} reversal ${reversalInput.amount}${returnCode ? ` ${returnCode}` : ''} · invoice ${reversalInput.invoiceNumber}`,
    });
  } catch (err) {
    // @temporalio/common's class cannot be imported here; its name is part of the SDK's contract.
    if (!isAlreadyStarted(err)) throw err;
    state.reversedBy = kind === 'void' ? 'ach_reject' : 'void';
    record('payment already reversed by the other event; no second reversal', workflowIds.reversal(txid));
    setStatus(PaymentStatus.ALREADY_REVERSED);
    return state;
  }
  setStatus(PaymentStatus.REVERSING);
  record('reversal started', child.workflowId);
  state.reversal = await child.result();
  setStatus(state.reversal.status);
  return state;
}

export async function reversalWorkflowV1(input: ReversalInput): Promise<ReversalOutcome> {
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
        await sendAlertInRun({
          key: `${workflowInfo().workflowId}:LATE_RETURN`,
          title: `Late ACH return for payment ${input.transactionId}`,
          text: `Return ${input.returnCode} arrived after its NACHA window; the payment was reversed in IMT. Review with the bank.`,
        }).catch(() => undefined);
      } else setStatus(PaymentStatus.ACH_REJECTED);
      return outcome;
    } catch (err) {
      outcome.lastError = toAttemptError(err);
      record('reversal failed', `${outcome.lastError.type}: ${outcome.lastError.message}`);
      setStatus(PaymentStatus.NEEDS_ATTENTION);
      await sendAlertInRun({
        key: `${workflowInfo().workflowId}:NEEDS_ATTENTION:${outcome.attempts}`,
        title: `Reversal of payment ${input.transactionId} needs attention`,
        text: `IMT did not accept the ${label(input.kind).toLowerCase()} reversal (${outcome.lastError.type}): ${outcome.lastError.message}. Fix the cause, then signal retry or dismiss.`,
      }).catch(() => undefined);
      if ((await controls.awaitDecision()) === 'dismiss') {
        outcome.closingReason = controls.dismissal;
        setStatus(PaymentStatus.DISMISSED);
        return outcome;
      }
      setStatus(PaymentStatus.REVERSING);
    }
  }
}
