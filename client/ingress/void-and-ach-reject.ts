/**
 * Intake of voids and ACH rejects (contracts B): one event run per event, deduplicated by
 * its business key (`void-<txid>` / `ach-reject-<txid>`); the answer is 201 once the
 * reversal is final, 202 while it waits (for its payment, or for a person).
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import {
  AWAITED_PAYMENT_WORKFLOW_TYPE,
  earlyEventSignal,
  toCents,
  PaymentStatus,
  transactionSearchAttributes,
  workflowIds,
  type AchRejectEvent,
  type ReversalEventState,
  type ReversalKind,
  type VoidEvent,
} from '../../domain';
import type { reversalEventWorkflow } from '../../workflows/void-and-ach-reject';
import { statusUrl, type Answer } from './answers';
import { fingerprint, statusOf, waitForCloseOrStatus, type IntakeDeps } from './runs';

const FINAL = new Set<string>([
  PaymentStatus.VOIDED,
  PaymentStatus.ACH_REJECTED,
  PaymentStatus.LATE_RETURN,
  PaymentStatus.VOIDED_BEFORE_POSTING,
  PaymentStatus.ALREADY_REVERSED,
]);

interface PaymentMemo {
  amount?: string;
  payment_method?: string;
}

/** What the door knows of the payment: undefined when IC has not sent it (no run, or an awaited payment). */
async function paymentMemo(client: Client, transactionId: string): Promise<PaymentMemo | undefined> {
  try {
    const desc = await client.workflow.getHandle(workflowIds.payment(transactionId)).describe();
    if (desc.type === AWAITED_PAYMENT_WORKFLOW_TYPE) return undefined;
    return (desc.memo ?? {}) as PaymentMemo;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** IC's answer for one delivery of a void or an ACH reject. */
export async function receiveReversalEvent(
  deps: IntakeDeps,
  kind: ReversalKind,
  event: VoidEvent | AchRejectEvent,
): Promise<Answer> {
  const memo = await paymentMemo(deps.client, event.transaction_id);
  const refused = checkAgainstPayment(memo, kind, event);
  if (refused) return refused;
  const txid = event.transaction_id;
  // Before the event's run: the payment, whenever it comes, will ask this event first.
  if (!memo) await awaitPayment(deps, kind, event);
  const started = await startEventRun(deps, kind, event);
  if ('answer' in started) return started.answer;
  const outcome = await waitForCloseOrStatus<ReversalEventState>(
    deps.client,
    started.handle,
    deps.confirmWaitMs,
    (s) => WAITING.has(s),
  );
  const state = 'closed' in outcome ? outcome.closed : undefined;
  if (state && FINAL.has(state.status)) {
    return {
      kind: 'done',
      body: {
        transaction_id: txid,
        status: state.status,
        reversal: state.reversal
          ? {
              amount: state.reversal.amount,
              return_code: state.reversal.returnCode,
              imt_reversal_id: state.reversal.imtReversalId,
            }
          : null,
        reversed_by: state.reversedBy ?? null,
        status_url: statusUrl(txid),
      },
    };
  }
  const status =
    state?.status ?? ('status' in outcome ? outcome.status : undefined) ?? (await statusOf(started.handle));
  return { kind: 'accepted', body: { transaction_id: txid, status, status_url: statusUrl(txid) } };
}

/** Checked at the door when the payment is known: the amount, and echeck for ACH rejects. */
function checkAgainstPayment(
  memo: PaymentMemo | undefined,
  kind: ReversalKind,
  event: VoidEvent | AchRejectEvent,
): Answer | undefined {
  const txid = event.transaction_id;
  if (memo?.amount !== undefined && toCents(memo.amount) !== toCents(event.amount)) {
    return {
      kind: 'conflict',
      rejected: 'amount_mismatch',
      body: {
        error: 'amount_mismatch',
        message: `amount ${event.amount} differs from payment ${txid}'s amount ${memo.amount}.`,
        transaction_id: txid,
      },
    };
  }
  if (kind === 'ach_reject' && memo?.payment_method !== undefined && memo.payment_method !== 'echeck') {
    return {
      kind: 'invalid',
      rejected: 'not_echeck',
      body: {
        error: 'invalid_request',
        message: `Payment ${txid} was paid by ${memo.payment_method}; only echeck payments can be ACH-rejected.`,
        fields: { transaction_id: [`payment was paid by ${memo.payment_method}, not echeck`] },
      },
    };
  }
  return undefined;
}

/**
 * The payment has not come: start `payment-<txid>` as an awaited payment
 * (workflows/awaited-payment.ts), or tell the one already waiting, that this event came
 * first. The payment intake then needs no lookup: its start is refused and it hands the
 * payment over. A payment run that started meanwhile (a race at the door) only records the
 * signal; one that already closed refuses the start — either way the event's own run finds it.
 */
async function awaitPayment(
  deps: IntakeDeps,
  kind: ReversalKind,
  event: VoidEvent | AchRejectEvent,
): Promise<void> {
  const txid = event.transaction_id;
  const eventId = kind === 'void' ? workflowIds.void(txid) : workflowIds.achReject(txid);
  try {
    await deps.client.workflow.signalWithStart('awaitedPaymentWorkflow', {
      workflowId: workflowIds.payment(txid),
      taskQueue: deps.taskQueue,
      args: [{ transactionId: txid, since: new Date().toISOString() }],
      signal: earlyEventSignal,
      signalArgs: [{ eventId }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: transactionSearchAttributes(event, PaymentStatus.AWAITING_PAYMENT),
      staticSummary: `Awaited payment · invoice ${event.invoice_number} · customer ${event.customer}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** Starts the event's run under its business key, or finds it (a repeat) — or a conflict. */
async function startEventRun(
  deps: IntakeDeps,
  kind: ReversalKind,
  event: VoidEvent | AchRejectEvent,
): Promise<{ handle: WorkflowHandle<typeof reversalEventWorkflow> } | { answer: Answer }> {
  const txid = event.transaction_id;
  const workflowId = kind === 'void' ? workflowIds.void(txid) : workflowIds.achReject(txid);
  const fp = fingerprint(event);
  try {
    const handle = await deps.client.workflow.start<typeof reversalEventWorkflow>('reversalEventWorkflow', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [
        {
          kind,
          event,
          receivedAt: new Date().toISOString(),
          unknownPaymentWaitMs: deps.unknownPaymentWaitMs,
        },
      ],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { fingerprint: fp },
      typedSearchAttributes: transactionSearchAttributes(event, PaymentStatus.RECEIVED),
      staticSummary:
        // Readable in the UI (not encrypted): identifiers only, never the amount.
        kind === 'void'
          ? `Void · invoice ${event.invoice_number} · customer ${event.customer}`
          : `ACH reject ${(event as AchRejectEvent).return_code} · invoice ${event.invoice_number} · customer ${event.customer}`,
    });
    return { handle };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const handle = deps.client.workflow.getHandle<typeof reversalEventWorkflow>(workflowId);
  if ((await handle.describe()).memo?.fingerprint === fp) return { handle };
  return {
    answer: {
      kind: 'conflict',
      rejected: 'conflict',
      body: {
        error: 'conflict',
        message: `A ${kind === 'void' ? 'void' : 'ACH reject'} for ${txid} was already received with different content.`,
        transaction_id: txid,
      },
    },
  };
}

/** Statuses that will not change soon: answer 202 at once instead of holding IC's call. */
const WAITING = new Set<string>([PaymentStatus.AWAITING_PAYMENT, PaymentStatus.NEEDS_ATTENTION]);
