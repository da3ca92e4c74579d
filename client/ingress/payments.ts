/**
 * Payment intake: turns one IC Data Pump delivery into (at most) one payment workflow
 * and answers IC per contracts B (201 confirmed / 202 accepted / 400 / 409).
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import {
  PaymentStatus,
  SA,
  paymentStateQuery,
  workflowIds,
  type PaymentRequest,
  type PaymentState,
} from '../../workflows/messages';
import type { paymentWorkflow } from '../../workflows/payment';
import { pendingReversalEvents } from './reversals';
import { waitForCloseOrStatus } from './wait';

export interface IntakeContext {
  client: Client;
  taskQueue: string;
  /** How long to wait for IMT's confirmation before answering 202. */
  confirmWaitMs: number;
}

export type IntakeAnswer =
  | { kind: 'posted'; state: PaymentState }
  | { kind: 'accepted'; state?: PaymentState; status: PaymentStatus }
  | { kind: 'rejected-by-imt'; state: PaymentState }
  | { kind: 'conflict'; existingFingerprint?: string };

/** Stable digest of the fields that define a payment; stored in the workflow memo. */
export function fingerprint(body: object): string {
  const canonical = JSON.stringify(
    Object.keys(body)
      .sort()
      .map((k) => [k, (body as Record<string, unknown>)[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/** Stays readable in the UI (not encrypted): identifiers only, never the amount (README, Deploying). */
export function paymentSummary(p: PaymentRequest): string {
  return `Payment · invoice ${p.invoice_number} · customer ${p.customer}`;
}

export async function receivePayment(ctx: IntakeContext, payment: PaymentRequest): Promise<IntakeAnswer> {
  const workflowId = workflowIds.payment(payment.transaction_id);
  const fp = fingerprint(payment);
  // A void or ACH reject that came first (and is still open): the payment run asks it
  // whether it matches before posting. Dismissed or closed events don't apply.
  const earlier = await pendingReversalEvents(ctx.client, payment.transaction_id);
  let handle: WorkflowHandle<typeof paymentWorkflow>;
  try {
    handle = await ctx.client.workflow.start<typeof paymentWorkflow>('paymentWorkflow', {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [
        {
          payment,
          receivedAt: new Date().toISOString(),
          earlyEvents: earlier.length ? earlier : undefined,
        },
      ],
      // A transaction is posted once, ever: a closed run must not be started again either.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // amount and method let a later void / ACH reject be checked at the door (409 / 400).
      memo: { fingerprint: fp, amount: payment.amount, payment_method: payment.payment_method },
      typedSearchAttributes: [
        { key: SA.TransactionId, value: payment.transaction_id },
        { key: SA.InvoiceNumber, value: payment.invoice_number },
        { key: SA.CustomerId, value: payment.customer },
        { key: SA.PaymentStatus, value: PaymentStatus.RECEIVED },
      ],
      staticSummary: paymentSummary(payment),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    handle = ctx.client.workflow.getHandle(workflowId);
    const existing = (await handle.describe()).memo?.fingerprint;
    if (existing !== fp) return { kind: 'conflict', existingFingerprint: String(existing) };
  }
  return waitForOutcome(ctx, handle);
}

/**
 * Waits up to `confirmWaitMs` for the run to close, answering early when it parked in
 * NEEDS_ATTENTION (IMT said 400), which must be answered 400 rather than 202.
 */
export async function waitForOutcome(ctx: IntakeContext, handle: WorkflowHandle): Promise<IntakeAnswer> {
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

function answerFor(state: PaymentState): IntakeAnswer {
  if (state.status === PaymentStatus.POSTED) return { kind: 'posted', state };
  if (state.status === PaymentStatus.NEEDS_ATTENTION && state.lastError?.type === 'InvalidPost')
    return { kind: 'rejected-by-imt', state };
  return { kind: 'accepted', state, status: state.status };
}
