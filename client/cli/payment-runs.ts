/**
 * Reading transaction runs from Temporal (one per IC transaction, `payment-<txid>`) — the
 * visibility queries behind `payments list`, a run's description and its `state` query — so
 * the CLI shows exactly what the Temporal UI shows.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { workflowUiUrl } from '../../common/ui';
import {
  TRANSACTION_WORKFLOW_TYPE,
  SA,
  transactionStateQuery,
  type TransactionMemo,
  type TransactionState,
} from '../../domain';
import type { CommandContext } from './context';
import type { ListOptions } from './payment-args';

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
  /** The void / ACH reject IC sent for the transaction (`void`, `ach_reject`), from the run's memo; its status says how far it got. */
  reversal?: string;
  workflow_id: string;
  ui_url?: string;
}

/** The visibility query behind `payments list` (also what the UI's search box accepts). */
export function buildListQuery(opts: ListOptions, taskQueue?: string): string {
  const clauses = [`WorkflowType = '${TRANSACTION_WORKFLOW_TYPE}'`];
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
    const memo = (wf.memo ?? {}) as Record<keyof TransactionMemo, unknown>;
    const sa = wf.typedSearchAttributes;
    const events = (['void', 'ach_reject'] as const).filter((kind) => memo[kind] !== undefined);
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
      reversal: events.length ? events.join(', ') : undefined,
      workflow_id: wf.workflowId,
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, wf.workflowId),
    });
    onPage?.(rows.length);
    if (rows.length >= opts.limit) break;
  }
  return rows;
}

/** The `state` query needs a worker; a closed run's result holds the same state without one. */
export async function readState(
  client: Client,
  workflowId: string,
  runStatus: string,
): Promise<{ state?: TransactionState; note?: string }> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return { state: await client.withDeadline(Date.now() + 5000, () => handle.query(transactionStateQuery)) };
  } catch (err) {
    if (runStatus === 'COMPLETED') {
      try {
        return { state: (await handle.result()) as TransactionState };
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
