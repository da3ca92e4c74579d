/**
 * Intake of IC's payments, voids and ACH rejects (contracts B): each delivery is one
 * update-with-start of its transaction's run `payment-<txid>` (workflows/transaction.ts).
 * The run's validator refuses a conflicting delivery without writing history (409 / 400);
 * the update is accepted only once the delivery is in the run's history, so every 2xx is
 * durable; the run answers once the delivery is settled for IC, or after the wait the
 * ingress asked for. A transaction whose run has closed gets a new run that reads IMT's
 * record first (`reopened`).
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WithStartWorkflowOperation,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  PaymentStatus,
  TRANSACTION_WORKFLOW_TYPE,
  toCents,
  deliveryTransactionId,
  transactionSearchAttributes,
  workflowIds,
  type Delivery,
  type DeliveryAnswer,
  type RefusalCode,
  type TransactionMemo,
  deliverUpdate,
} from '../../domain';
import type { transactionWorkflow } from '../../workflows/transaction';
import { REDELIVER_AFTER_S, statusUrl, unavailable, type Answer } from './answers';
import { fingerprint, type IntakeDeps } from './runs';

/** How much longer than the run's own wait the ingress waits for the update's answer. */
const ANSWER_GRACE_MS = 5_000;

/** How one delivery waits: the window, and the caller's hang-up. */
export interface WaitPlan {
  windowMs?: number;
  /** Fires when IC hung up: the ingress stops waiting at once (the run's wait is bounded anyway). */
  giveUp?: AbortSignal;
}

/** Readable in the UI (not encrypted): identifiers only, never the amount (README, Deploying). */
export function transactionSummary(d: Delivery): string {
  const keys = d.kind === 'payment' ? d.payment : d.event;
  return `Transaction · invoice ${keys.invoice_number} · customer ${keys.customer}`;
}

/**
 * How a transaction's run is started — by the ingress and by the bench's direct-start
 * baseline, so both compare the same start.
 */
export function transactionStartOptions(
  d: Delivery,
  deps: Pick<IntakeDeps, 'taskQueue' | 'timing'>,
  reopened = false,
  /** A reopened run keeps what the closed run's memo held, so the door still refuses a conflict. */
  priorMemo: TransactionMemo = {},
) {
  const txid = deliveryTransactionId(d);
  const keys = d.kind === 'payment' ? d.payment : d.event;
  const memo: TransactionMemo = { ...priorMemo, [d.kind]: priorMemo[d.kind] ?? fingerprint(d) };
  if (d.kind === 'payment' && memo.amount === undefined) {
    memo.amount = d.payment.amount;
    memo.payment_method = d.payment.payment_method;
  }
  return {
    workflowId: workflowIds.payment(txid),
    taskQueue: deps.taskQueue,
    args: [{ transactionId: txid, first: d, reopened, timing: deps.timing }] as Parameters<
      typeof transactionWorkflow
    >,
    // A closed run is not started again blindly: the ingress then starts a `reopened` run.
    workflowIdReusePolicy: reopened
      ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
      : WorkflowIdReusePolicy.REJECT_DUPLICATE,
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    memo: memo as Record<string, unknown>,
    typedSearchAttributes: transactionSearchAttributes(
      keys,
      d.kind === 'payment' ? PaymentStatus.POSTING : PaymentStatus.AWAITING_PAYMENT,
    ),
    staticSummary: transactionSummary(d),
  };
}

/** IC's answer for one delivery of a payment, a void or an ACH reject. */
export async function receiveDelivery(deps: IntakeDeps, d: Delivery, plan: WaitPlan = {}): Promise<Answer> {
  const waitMs = plan.windowMs ?? deps.confirmWaitMs;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), waitMs + ANSWER_GRACE_MS);
  const hangUp = () => abort.abort();
  plan.giveUp?.addEventListener('abort', hangUp, { once: true });
  try {
    let answer: DeliveryAnswer;
    try {
      answer = await deliver(deps, d, waitMs, abort.signal);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The transaction's run has closed: what it accepted (its memo) still decides a
      // conflict at the door; otherwise a new run reads IMT's record first.
      const prior = (await readMemo(deps, d)) ?? {};
      const refused = memoRefusal(prior, d);
      if (refused) return refusalAnswer(d, refused.code, refused.message);
      answer = await deliver(deps, d, waitMs, abort.signal, prior);
    }
    return answerFor(d, answer);
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal) return refusalAnswer(d, refusal.code, refusal.message);
    // No answer in time (no worker, a slow server) or IC hung up: was it taken? Only the
    // memo can say without a worker — a conflicting delivery is still a 409, never a 2xx.
    const conflict = await memoConflict(deps, d).catch(() => undefined);
    if (conflict) return refusalAnswer(d, conflict.code, conflict.message);
    return unavailable(
      `${d.kind} ${deliveryTransactionId(d)} was not confirmed as received in time; deliver it again`,
      REDELIVER_AFTER_S,
    );
  } finally {
    clearTimeout(timer);
    plan.giveUp?.removeEventListener('abort', hangUp);
  }
}

/** One update-with-start; `priorMemo` (a closed run's) makes the started run a reopened one. */
async function deliver(
  deps: IntakeDeps,
  d: Delivery,
  waitMs: number,
  signal: AbortSignal,
  priorMemo?: TransactionMemo,
): Promise<DeliveryAnswer> {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof transactionWorkflow>(
    TRANSACTION_WORKFLOW_TYPE,
    transactionStartOptions(d, deps, priorMemo !== undefined, priorMemo),
  );
  return deps.client.withAbortSignal(signal, () =>
    deps.client.workflow.executeUpdateWithStart(deliverUpdate, {
      args: [{ delivery: d, waitMs, fingerprint: fingerprint(d) }],
      startWorkflowOperation,
    }),
  );
}

const REFUSALS = new Set<string>(['conflict', 'amount_mismatch', 'not_echeck', 'wrong_transaction']);

function refusalOf(err: unknown): { code: RefusalCode; message: string } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type && REFUSALS.has(cause.type))
    return { code: cause.type as RefusalCode, message: cause.message };
  return undefined;
}

/** The door's own check, from the memo (no worker needed): undefined when it cannot tell. */
/** The door's own check, from the memo (no worker needed): undefined when it cannot tell. */
async function memoConflict(deps: IntakeDeps, d: Delivery) {
  const memo = await readMemo(deps, d);
  return memo ? memoRefusal(memo, d) : undefined;
}

async function readMemo(deps: IntakeDeps, d: Delivery): Promise<TransactionMemo | undefined> {
  try {
    const desc = await deps.client.workflow
      .getHandle(workflowIds.payment(deliveryTransactionId(d)))
      .describe();
    return (desc.memo ?? {}) as TransactionMemo;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** What the memo (fingerprints, the payment's amount and method) refuses, like the run's validator. */
export function memoRefusal(
  memo: TransactionMemo,
  d: Delivery,
): { code: RefusalCode; message: string } | undefined {
  const seen = memo[d.kind];
  if (seen !== undefined && seen !== fingerprint(d))
    return { code: 'conflict', message: `this ${d.kind} was already received with different content` };
  if (d.kind === 'payment') return undefined;
  if (memo.amount !== undefined && !sameAmount(memo.amount, d.event.amount))
    return {
      code: 'amount_mismatch',
      message: `amount ${d.event.amount} differs from the payment's ${memo.amount}`,
    };
  if (d.kind === 'ach_reject' && memo.payment_method !== undefined && memo.payment_method !== 'echeck')
    return {
      code: 'not_echeck',
      message: `payment ${d.event.transaction_id} was paid by ${memo.payment_method}; only echeck payments can be ACH-rejected`,
    };
  return undefined;
}

function sameAmount(a: string, b: string): boolean {
  try {
    return toCents(a) === toCents(b);
  } catch {
    return a === b;
  }
}

function refusalAnswer(d: Delivery, code: RefusalCode, message: string): Answer {
  const txid = deliveryTransactionId(d);
  if (code === 'not_echeck' || code === 'wrong_transaction')
    return {
      kind: 'invalid',
      rejected: code,
      body: { error: 'invalid_request', message, fields: { transaction_id: [message] } },
    };
  return { kind: 'conflict', rejected: code, body: { error: code, message, transaction_id: txid } };
}

/** The run's answer as HTTP (contracts B). */
export function answerFor(d: Delivery, a: DeliveryAnswer): Answer {
  const txid = a.transactionId;
  if (d.kind === 'payment') {
    // 201 only for a payment IMT holds and nobody must look at (a reopened run that found
    // another amount in IMT's record parks: 202 with that status).
    if (a.imtHolds === 'YES' && a.posted && a.status !== PaymentStatus.NEEDS_ATTENTION)
      return { kind: 'done', body: a.posted };
    if (
      a.status === PaymentStatus.NEEDS_ATTENTION &&
      a.imtHolds === 'NO' &&
      a.lastError?.type === 'InvalidPost'
    )
      return {
        kind: 'invalid',
        body: {
          error: 'rejected_by_imt',
          message: `IMT rejected the payment as invalid: ${a.lastError.message}`,
          reasons: a.lastError.reasons,
          transaction_id: txid,
          status: a.status,
          status_url: statusUrl(txid),
        },
      };
  } else if (a.status === PaymentStatus.REVERSED || a.status === PaymentStatus.NOT_POSTED) {
    return {
      kind: 'done',
      body: {
        transaction_id: txid,
        status: a.status,
        reversal: a.reversed
          ? {
              reversal_type: a.reversed.reversal_type,
              amount: a.reversed.amount,
              return_code: a.reversed.return_code ?? null,
              imt_reversal_id: a.reversed.id,
            }
          : null,
        late_return: a.lateReturn === true,
        status_url: statusUrl(txid),
      },
    };
  }
  return { kind: 'accepted', body: { transaction_id: txid, status: a.status, status_url: statusUrl(txid) } };
}
