/**
 * Intake of voids and ACH rejects (contracts B): one reversal-event workflow per event,
 * deduplicated by its business key (`void-<txid>` / `ach-reject-<txid>`).
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  toCents,
  PaymentStatus,
  SA,
  workflowIds,
  type AchRejectEvent,
  type ReversalEventState,
  type ReversalKind,
  type VoidEvent,
} from '../../domain';
import type { reversalEventWorkflow } from '../../workflows/void-and-ach-reject';
import { fingerprint } from './payments';
import { AchRejectSchema, VoidPaymentSchema } from './schemas';
import type { IngressContext } from './server';
import { statusOf, waitForCloseOrStatus } from './wait';

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

async function paymentMemo(client: Client, transactionId: string): Promise<PaymentMemo | undefined> {
  try {
    const desc = await client.workflow.getHandle(workflowIds.payment(transactionId)).describe();
    return (desc.memo ?? {}) as PaymentMemo;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export function registerReversalRoutes(
  app: FastifyInstance,
  ctx: IngressContext,
  unknownPaymentWaitMs: number,
): void {
  const { client, taskQueue } = ctx.opts;

  const receive = async (kind: ReversalKind, event: VoidEvent | AchRejectEvent, reply: FastifyReply) => {
    const call = kind === 'void' ? 'void-payment' : 'ach-reject';
    const txid = event.transaction_id;
    const memo = await paymentMemo(client, txid);
    if (memo?.amount !== undefined && toCents(memo.amount) !== toCents(event.amount)) {
      ctx.opts.hooks?.onRejected?.(call, 'amount_mismatch');
      return reply.code(409).send({
        error: 'amount_mismatch',
        message: `amount ${event.amount} differs from payment ${txid}'s amount ${memo.amount}.`,
        transaction_id: txid,
      });
    }
    if (kind === 'ach_reject' && memo?.payment_method !== undefined && memo.payment_method !== 'echeck') {
      ctx.opts.hooks?.onRejected?.(call, 'not_echeck');
      return reply.code(400).send({
        error: 'invalid_request',
        message: `Payment ${txid} was paid by ${memo.payment_method}; only echeck payments can be ACH-rejected.`,
        fields: { transaction_id: [`payment was paid by ${memo.payment_method}, not echeck`] },
      });
    }

    const workflowId = kind === 'void' ? workflowIds.void(txid) : workflowIds.achReject(txid);
    const fp = fingerprint(event);
    let handle: WorkflowHandle<typeof reversalEventWorkflow>;
    try {
      handle = await client.workflow.start<typeof reversalEventWorkflow>('reversalEventWorkflow', {
        workflowId,
        taskQueue,
        args: [{ kind, event, receivedAt: new Date().toISOString(), unknownPaymentWaitMs }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: { fingerprint: fp },
        typedSearchAttributes: [
          { key: SA.TransactionId, value: txid },
          { key: SA.InvoiceNumber, value: event.invoice_number },
          { key: SA.CustomerId, value: event.customer },
          { key: SA.PaymentStatus, value: PaymentStatus.RECEIVED },
        ],
        staticSummary:
          // Readable in the UI (not encrypted): identifiers only, never the amount.
          kind === 'void'
            ? `Void · invoice ${event.invoice_number} · customer ${event.customer}`
            : `ACH reject ${(event as AchRejectEvent).return_code} · invoice ${event.invoice_number} · customer ${event.customer}`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle(workflowId);
      if ((await handle.describe()).memo?.fingerprint !== fp) {
        ctx.opts.hooks?.onRejected?.(call, 'conflict');
        return reply.code(409).send({
          error: 'conflict',
          message: `A ${kind === 'void' ? 'void' : 'ACH reject'} for ${txid} was already received with different content.`,
          transaction_id: txid,
        });
      }
    }
    const outcome = await waitForCloseOrStatus<ReversalEventState>(
      client,
      handle,
      ctx.opts.confirmWaitMs,
      (s) => WAITING.has(s),
    );
    const state = 'closed' in outcome ? outcome.closed : undefined;
    if (state && FINAL.has(state.status)) {
      return reply.code(201).send({
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
        status_url: ctx.statusUrl(txid),
      });
    }
    const status =
      state?.status ?? ('status' in outcome ? outcome.status : undefined) ?? (await statusOf(handle));
    return reply.code(202).send({ transaction_id: txid, status, status_url: ctx.statusUrl(txid) });
  };

  app.post('/api/integration/invoice/void-payment', async (req, reply) => {
    ctx.opts.hooks?.onReceived?.('void-payment');
    const event = ctx.validate(VoidPaymentSchema, req.body, reply, 'void-payment');
    if (!event) return reply;
    return receive('void', event, reply);
  });

  app.post('/api/integration/invoice/ach-reject', async (req, reply) => {
    ctx.opts.hooks?.onReceived?.('ach-reject');
    const event = ctx.validate(AchRejectSchema, req.body, reply, 'ach-reject');
    if (!event) return reply;
    return receive('ach_reject', event, reply);
  });
}

/** Statuses that will not change soon: answer 202 at once instead of holding IC's call. */
const WAITING = new Set<string>([PaymentStatus.AWAITING_PAYMENT, PaymentStatus.NEEDS_ATTENTION]);

/**
 * Called by payment intake before starting a payment run: the void / ACH-reject runs of
 * this transaction that are still open. The payment run checks with each one before
 * posting (workflows/payment.ts); closed or dismissed ones never apply to a later payment.
 */
export async function pendingReversalEvents(client: Client, transactionId: string): Promise<string[]> {
  const ids = [workflowIds.void(transactionId), workflowIds.achReject(transactionId)];
  const found = await Promise.all(
    ids.map(async (id) => {
      try {
        const desc = await client.workflow.getHandle(id).describe();
        return desc.status.name === 'RUNNING' ? id : undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    }),
  );
  return found.filter((id): id is string => id !== undefined);
}
