/**
 * Payment intake: turns one IC Data Pump delivery into (at most) one payment workflow
 * and its answer (contracts B: posted → 201, accepted → 202, IMT refused it → 400,
 * other content under a known transaction_id → 409). answers.ts makes it HTTP.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import {
  PaymentStatus,
  paymentRunMemo,
  transactionSearchAttributes,
  workflowIds,
  type PaymentRequest,
  type PaymentState,
  paymentSettledUpdate,
  paymentStateQuery,
} from '../../domain';
import type { paymentWorkflow } from '../../workflows/payment';
import { REDELIVER_AFTER_S, statusUrl, unavailable, type Answer } from './answers';
import { fingerprint, statusOf, waitForCloseOrStatus, type IntakeDeps } from './runs';

/** What the payment run told the intake, before it becomes IC's answer. */
type Outcome =
  | { kind: 'posted'; state: PaymentState }
  | { kind: 'accepted'; state?: PaymentState; status: PaymentStatus }
  | { kind: 'rejected-by-imt'; state: PaymentState }
  | { kind: 'conflict' };

/** How admission control (admission.ts) shapes one payment's wait. */
export interface WaitPlan {
  /** The backlog is too deep for the wait to succeed: start durably, answer 202 at once. */
  quick?: boolean;
  giveUp?: AbortSignal;
  /** The wait for the outcome, when admission control shortens it (default confirmWaitMs). */
  windowMs?: number;
  /**
   * Told once per wait whether the outcome came quickly (within `quickMs`) or not — as soon
   * as that is known, so admission control learns while the backlog builds.
   */
  onWaited?: (quick: boolean) => void;
  quickMs?: number;
  /** Told when the start call begins, and when it ends with how long it took (undefined: it failed). */
  onStarting?: () => void;
  onStarted?: (ms: number | undefined) => void;
}

/** IC's answer for one delivery of a payment. */
export async function receivePayment(
  deps: IntakeDeps,
  payment: PaymentRequest,
  plan: WaitPlan = {},
): Promise<Answer> {
  const txid = payment.transaction_id;
  let outcome: Outcome;
  try {
    outcome = await startAndWait(deps, payment, plan);
  } catch (err) {
    if (!(err instanceof IntakeNotDurableError)) throw err;
    return unavailable(err.message, REDELIVER_AFTER_S);
  }
  switch (outcome.kind) {
    case 'posted':
      return { kind: 'done', body: outcome.state.posted ?? {} };
    case 'conflict':
      return {
        kind: 'conflict',
        rejected: 'conflict',
        body: {
          error: 'conflict',
          message: `Transaction ${txid} was already received with different content; the first delivery stands.`,
          transaction_id: txid,
        },
      };
    case 'rejected-by-imt':
      return {
        kind: 'invalid',
        body: {
          error: 'rejected_by_imt',
          message: `IMT rejected the payment as invalid: ${outcome.state.lastError?.message ?? ''}`,
          reasons: outcome.state.lastError?.reasons,
          transaction_id: txid,
          status: outcome.state.status,
          status_url: statusUrl(txid),
        },
      };
    case 'accepted':
      return {
        kind: 'accepted',
        body: { transaction_id: txid, status: outcome.status, status_url: statusUrl(txid) },
      };
  }
}

/** Stays readable in the UI (not encrypted): identifiers only, never the amount (README, Deploying). */
export function paymentSummary(p: PaymentRequest): string {
  return `Payment · invoice ${p.invoice_number} · customer ${p.customer}`;
}

/**
 * How a payment run is started — by the ingress, and by the bench's direct-start baseline,
 * so the two compare the same start. `earlyEvents`: void / ACH-reject runs already open.
 */
export function paymentStartOptions(payment: PaymentRequest, taskQueue: string, earlyEvents: string[] = []) {
  return {
    workflowId: workflowIds.payment(payment.transaction_id),
    taskQueue,
    args: [
      {
        payment,
        receivedAt: new Date().toISOString(),
        earlyEvents: earlyEvents.length ? earlyEvents : undefined,
      },
    ] as Parameters<typeof paymentWorkflow>,
    // A transaction is posted once, ever: a closed run must not be started again either.
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    memo: paymentRunMemo(payment, fingerprint(payment)),
    typedSearchAttributes: transactionSearchAttributes(payment, PaymentStatus.RECEIVED),
    staticSummary: paymentSummary(payment),
  };
}

/**
 * Start + one long-poll on the happy path (issue 13): start the run (REJECT_DUPLICATE), then
 * one `settled` update that returns once the posting is settled for IC's answer. A repeat of
 * a running payment costs the same two calls; a repeat of a closed one one more (its memo and
 * result). Only when the window closes first does the ingress ask for the status (one
 * describe), to answer 202 with it.
 *
 * A void or ACH reject that came first has already started `payment-<txid>` as an awaited
 * payment (workflows/awaited-payment.ts): the start is refused, the update hands the payment
 * over (answered RECEIVED, which no payment run answers), and one more update waits on the
 * payment run it continued as. So the payment intake never looks for early events.
 *
 * `quick` (admission control): the backlog is too deep for the wait to succeed, so the run
 * is only started — durably — and answered 202 at once.
 */
async function startAndWait(ctx: IntakeDeps, payment: PaymentRequest, opts: WaitPlan): Promise<Outcome> {
  const workflowId = workflowIds.payment(payment.transaction_id);
  const fp = fingerprint(payment);
  const options = paymentStartOptions(payment, ctx.taskQueue);

  // 1. Start the run: durable once this returns, and never aborted (cancelling a start
  //    mid-flight can cancel it inside the server). Needs no worker, so it stays fast
  //    even when Temporal's task queue is backed up.
  let handle: WorkflowHandle<typeof paymentWorkflow>;
  let known = false;
  const startedAt = Date.now();
  let startMs: number | undefined;
  opts.onStarting?.();
  try {
    handle = await ctx.client.workflow.start<typeof paymentWorkflow>('paymentWorkflow', options);
    startMs = Date.now() - startedAt;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    handle = ctx.client.workflow.getHandle<typeof paymentWorkflow>(workflowId);
    known = true;
  } finally {
    opts.onStarted?.(startMs);
  }
  if (opts.quick && !known) return { kind: 'accepted', status: PaymentStatus.RECEIVED };

  // 2. One long-poll: the `settled` update answers once the posting is settled for IC's
  //    answer; its validator refuses a repeat with other content (409) without history.
  const abort = new AbortController();
  const windowMs = opts.quick ? 1 : (opts.windowMs ?? ctx.confirmWaitMs);
  const timer = setTimeout(() => abort.abort(), windowMs);
  const giveUp = () => abort.abort();
  opts.giveUp?.addEventListener('abort', giveUp, { once: true });
  let told = false;
  const tell = (quick: boolean) => {
    if (!told && !known) opts.onWaited?.(quick);
    told = true;
  };
  const slowTimer = setTimeout(() => tell(false), opts.quickMs ?? windowMs);
  try {
    const settled = () =>
      ctx.client.withAbortSignal(abort.signal, () =>
        handle.executeUpdate(paymentSettledUpdate, { args: [payment, { fingerprint: fp }] }),
      );
    let state = await settled();
    // Handed over by an awaited payment: ask the payment run it continues as (a few tries
    // while the continue-as-new lands; the window still bounds the wait).
    for (let i = 0; i < HANDOVER_TRIES && known && state.status === PaymentStatus.RECEIVED; i++)
      state = await settled();
    tell(true);
    return answerFor(state);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && isConflict(err)) return { kind: 'conflict' };
    if (abort.signal.aborted) {
      // The window closed first (the run is durably started): answer 202 with its status.
      const status = await statusOf(handle);
      // AWAITING_PAYMENT: an awaited payment that may not hold this delivery yet — never 2xx for it.
      if (status === undefined || status === PaymentStatus.AWAITING_PAYMENT)
        throw new IntakeNotDurableError(payment.transaction_id);
      return { kind: 'accepted', status: status as PaymentStatus };
    }
    // The run has closed (an update cannot reach it), or it started before the `settled`
    // update existed ("no handler"): compare with the memo and answer from its outcome.
    if (known) return repeatOfKnown(ctx, workflowId, fp, windowMs);
    throw err;
  } finally {
    clearTimeout(timer);
    clearTimeout(slowTimer);
    tell(false);
    opts.giveUp?.removeEventListener('abort', giveUp);
  }
}

/** How many more `settled` calls a delivery handed over by an awaited payment makes. */
const HANDOVER_TRIES = 3;

/** The payment could not be shown to be durably started in time: IC must redeliver (503). */
class IntakeNotDurableError extends Error {
  constructor(transactionId: string) {
    super(`payment ${transactionId} was not confirmed as received in time; deliver it again`);
  }
}

function isConflict(err: WorkflowUpdateFailedError): boolean {
  const cause = err.cause;
  return cause instanceof Error && cause.message.includes('already received with different content');
}

/** A delivery of a transaction whose run exists: compare, then answer from it. */
async function repeatOfKnown(
  ctx: IntakeDeps,
  workflowId: string,
  fp: string,
  waitMs: number,
): Promise<Outcome> {
  const handle = ctx.client.workflow.getHandle<typeof paymentWorkflow>(workflowId);
  const existing = (await handle.describe()).memo?.fingerprint;
  // Still an awaited payment (no memo yet): nothing shows it holds this delivery; IC redelivers.
  if (existing === undefined) throw new IntakeNotDurableError(workflowId.replace(/^payment-/, ''));
  if (existing !== fp) return { kind: 'conflict' };
  return waitForOutcome({ ...ctx, confirmWaitMs: Math.max(waitMs, 1) }, handle);
}

/**
 * Waits up to `confirmWaitMs` for the run to close, answering early when it parked in
 * NEEDS_ATTENTION (IMT said 400), which must be answered 400 rather than 202.
 */
async function waitForOutcome(ctx: IntakeDeps, handle: WorkflowHandle): Promise<Outcome> {
  const outcome = await waitForCloseOrStatus<PaymentState>(
    ctx.client,
    handle,
    ctx.confirmWaitMs,
    (status) => status === PaymentStatus.NEEDS_ATTENTION,
  );
  if ('closed' in outcome) return answerFor(outcome.closed);
  if (outcome.status === PaymentStatus.NEEDS_ATTENTION)
    return answerFor(await handle.query(paymentStateQuery));
  return {
    kind: 'accepted',
    status: (outcome.status as PaymentStatus | undefined) ?? PaymentStatus.RECEIVED,
  };
}

function answerFor(state: PaymentState): Outcome {
  if (state.status === PaymentStatus.POSTED) return { kind: 'posted', state };
  if (state.status === PaymentStatus.NEEDS_ATTENTION && state.lastError?.type === 'InvalidPost')
    return { kind: 'rejected-by-imt', state };
  return { kind: 'accepted', state, status: state.status };
}
