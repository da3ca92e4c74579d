/**
 * Invoice adjustments (contracts B `…/<invoice_number>/adjusted`): IMT says an invoice
 * changed, so its live balance goes to IC. One run per invoice collects a burst of
 * changes (workflows/invoice-adjustment.ts); this call only signals it, starting it if needed.
 */
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { SA, invoiceAdjustedSignal, invoiceAdjustedWorkflowId, taskQueuesOf } from '../../domain';
import type { invoiceAdjustmentWorkflow } from '../../workflows/invoice-adjustment';
import type { Answer } from './answers';
import type { IntakeDeps } from './runs';
import { InvoiceNumberParamSchema } from './schemas';

/** The invoice number from the URL, or the 400 that names its problem. */
export function parseInvoiceNumber(raw: string): { value: string } | { answer: Answer } {
  const parsed = InvoiceNumberParamSchema.safeParse(raw);
  if (parsed.success) return { value: parsed.data };
  return {
    answer: {
      kind: 'invalid',
      rejected: 'invalid_body',
      body: {
        error: 'invalid_request',
        message: `invoice_number ${parsed.error.issues[0]?.message ?? 'is invalid'}`,
        fields: { invoice_number: parsed.error.issues.map((i) => i.message) },
      },
    },
  };
}

export async function receiveAdjustment(
  deps: IntakeDeps,
  invoiceNumber: string,
  body: { reason?: string },
): Promise<Answer> {
  const workflowId = invoiceAdjustedWorkflowId(invoiceNumber);
  await deps.client.workflow.signalWithStart<typeof invoiceAdjustmentWorkflow, [{ reason?: string }]>(
    'invoiceAdjustmentWorkflow',
    {
      workflowId,
      // deps.taskQueue is the payments pool's; an adjustment belongs to the bulk pool.
      taskQueue: taskQueuesOf(deps.taskQueue).bulk,
      args: [invoiceNumber],
      signal: invoiceAdjustedSignal,
      signalArgs: [{ reason: body.reason }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: [{ key: SA.InvoiceNumber, value: invoiceNumber }],
      staticSummary: `Balance update to IC · invoice ${invoiceNumber}`,
    },
  );
  return {
    kind: 'accepted',
    body: { invoice_number: invoiceNumber, status: 'ACCEPTED', workflow_id: workflowId },
  };
}
