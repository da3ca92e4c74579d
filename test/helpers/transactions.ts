/**
 * A payment delivered to its transaction's run without the ingress: the same
 * update-with-start and start options the ingress uses (client/ingress/payment.ts), for tests
 * that run a worker of their own (another task queue, data converter or process).
 */
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { transactionStartOptions } from '../../client/ingress/payment';
import {
  TRANSACTION_WORKFLOW_TYPE,
  deliverUpdate,
  type DeliveryAnswer,
  type PaymentRequest,
  type TransactionTiming,
} from '../../domain';
import type { transactionWorkflow } from '../../workflows/transaction';

/** No hold after posting: the run closes once the payment is settled, so its result can be awaited. */
export const NO_HOLD: Partial<TransactionTiming> = { holdCardMs: 0, holdEcheckMs: 0 };

export async function deliverPayment(
  client: Client,
  taskQueue: string,
  payment: PaymentRequest,
  opts: { timing?: Partial<TransactionTiming>; waitMs?: number } = {},
): Promise<{ answer: DeliveryAnswer; handle: WorkflowHandle<typeof transactionWorkflow> }> {
  const delivery = { kind: 'payment' as const, payment };
  const start = new WithStartWorkflowOperation<typeof transactionWorkflow>(
    TRANSACTION_WORKFLOW_TYPE,
    transactionStartOptions(delivery, { taskQueue, timing: opts.timing }),
  );
  const answer = await client.workflow.executeUpdateWithStart(deliverUpdate, {
    args: [{ delivery, waitMs: opts.waitMs ?? 30_000 }],
    startWorkflowOperation: start,
  });
  return { answer, handle: await start.workflowHandle() };
}
