/**
 * Reading payment runs from Temporal — the visibility queries behind `payments list`, a
 * run's description and its `state` query — so the CLI shows exactly what the Temporal UI shows.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { workflowUiUrl } from '../../common/ui';
import { PAYMENT_WORKFLOW_TYPE, SA, paymentStateQuery, type PaymentState } from '../../domain';
import type { CommandContext } from './context';
import { ID_RULE, type ListOptions } from './payment-args';

export { PAYMENT_WORKFLOW_TYPE };
/** The one reversal of a transaction (workflows/void-and-ach-reject.ts, ID `reversal-<transaction_id>`). */
export const REVERSAL_WORKFLOW_TYPE = 'reversalWorkflow';

export interface PaymentRow {
  transaction_id: string;
  status: string;
  run_status: string;
  amount?: string;
  payment_method?: string;
  invoice_number?: string;
  customer?: string;
  started_at: string;
  closed_at?: string;
  /** Status of the transaction's reversal (VOIDED, ACH_REJECTED, …) when it has one. */
  reversal?: string;
  workflow_id: string;
  ui_url?: string;
}

/** The visibility query behind `payments list` (also what the UI's search box accepts). */
export function buildListQuery(opts: ListOptions, taskQueue?: string): string {
  const clauses = [`WorkflowType = '${PAYMENT_WORKFLOW_TYPE}'`];
  if (taskQueue) clauses.push(`TaskQueue = '${taskQueue}'`);
  if (opts.status?.length === 1) clauses.push(`PaymentStatus = '${opts.status[0]}'`);
  else if (opts.status?.length)
    clauses.push(`PaymentStatus IN (${opts.status.map((s) => `'${s}'`).join(', ')})`);
  if (opts.invoice) clauses.push(`InvoiceNumber = '${opts.invoice}'`);
  if (opts.customer) clauses.push(`CustomerId = '${opts.customer}'`);
  if (opts.since) clauses.push(`StartTime >= '${opts.since.toISOString()}'`);
  return clauses.join(' AND ');
}

export async function listPayments(
  ctx: CommandContext,
  opts: ListOptions,
  onPage?: (count: number) => void,
): Promise<PaymentRow[]> {
  const query = buildListQuery(opts, opts.anyTaskQueue ? undefined : ctx.taskQueue);
  const rows: PaymentRow[] = [];
  for await (const wf of ctx.client.workflow.list({ query, pageSize: Math.min(opts.limit, 1000) })) {
    const memo = (wf.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
    const sa = wf.typedSearchAttributes;
    rows.push({
      transaction_id: sa.get(SA.TransactionId) ?? wf.workflowId.replace(/^payment-/, ''),
      status: sa.get(SA.PaymentStatus) ?? '',
      run_status: wf.status.name,
      amount: typeof memo.amount === 'string' ? memo.amount : undefined,
      payment_method: typeof memo.payment_method === 'string' ? memo.payment_method : undefined,
      invoice_number: sa.get(SA.InvoiceNumber),
      customer: sa.get(SA.CustomerId),
      started_at: wf.startTime.toISOString(),
      closed_at: wf.closeTime?.toISOString(),
      workflow_id: wf.workflowId,
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, wf.workflowId),
    });
    onPage?.(rows.length);
    if (rows.length >= opts.limit) break;
  }
  await addReversals(ctx, rows);
  return rows;
}

/**
 * A posted payment's run is closed; a later void or ACH reject lives in its own
 * `reversal-<id>` run. One extra visibility query per 100 rows brings that status in.
 */
async function addReversals(ctx: CommandContext, rows: PaymentRow[]): Promise<void> {
  const safe = rows.filter((r) => ID_RULE.test(r.transaction_id));
  const byId = new Map(safe.map((r) => [r.transaction_id, r]));
  for (let i = 0; i < safe.length; i += 100) {
    const ids = safe.slice(i, i + 100).map((r) => `'${r.transaction_id}'`);
    const query = `WorkflowType = '${REVERSAL_WORKFLOW_TYPE}' AND TransactionId IN (${ids.join(', ')})`;
    for await (const wf of ctx.client.workflow.list({ query })) {
      const row = byId.get(wf.typedSearchAttributes.get(SA.TransactionId) ?? '');
      if (row) row.reversal = wf.typedSearchAttributes.get(SA.PaymentStatus) ?? wf.status.name;
    }
  }
}

/** The `state` query needs a worker; a closed run's result holds the same state without one. */
export async function readState(
  client: Client,
  workflowId: string,
  runStatus: string,
): Promise<{ state?: PaymentState; note?: string }> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return { state: await client.withDeadline(Date.now() + 5000, () => handle.query(paymentStateQuery)) };
  } catch (err) {
    if (runStatus === 'COMPLETED') {
      try {
        return { state: (await handle.result()) as PaymentState };
      } catch {
        // fall through to the note
      }
    }
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { note: `state not available (${reason}); is a worker polling the task queue?` };
  }
}

export async function describeOrUndefined(
  client: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
