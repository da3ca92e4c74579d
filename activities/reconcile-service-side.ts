/**
 * The service's side of a biller day, read from Temporal's visibility store (memo + search
 * attributes: no per-run call). Which runs belong to the day is explained at the top of
 * activities/reconcile.ts.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { toCents, SA, type ReconcileProgress } from '../domain';
import type { ServicePayment, ServiceReversal } from './reconcile-compare';
import { SortedSpill } from './sorted-spill';

const VISIBILITY_PAGE_SIZE = 1000;

export interface ServiceSide {
  /** The day's payment runs, by transaction ID (spilled to disk past one run). */
  payments: SortedSpill<ServicePayment>;
  /** Reversal runs started since the day began, by transaction ID. */
  reversals: SortedSpill<ServiceReversal>;
  /**
   * Transactions with a void / ACH-reject event run still running: bounded by what is in
   * flight at this moment, not by the size of the day, so it stays in memory.
   */
  pendingEvents: Set<string>;
}

const q = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function centsOrNull(amount: unknown): number | null {
  if (typeof amount !== 'string') return null;
  try {
    return toCents(amount);
  } catch {
    return null;
  }
}

export function servicePaymentOf(
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'typedSearchAttributes' | 'status'>,
): ServicePayment {
  const sa = info.typedSearchAttributes;
  const memo = (info.memo ?? {}) as { amount?: unknown };
  const running = info.status.name === 'RUNNING';
  return {
    txid: sa.get(SA.TransactionId) ?? info.workflowId.replace(/^payment-/, ''),
    workflowId: info.workflowId,
    runId: info.runId,
    customer: sa.get(SA.CustomerId) ?? '',
    invoice: sa.get(SA.InvoiceNumber) ?? '',
    cents: centsOrNull(memo.amount),
    // A terminated / failed run is not POSTED whatever its last search attribute says.
    status:
      running || info.status.name === 'COMPLETED'
        ? (sa.get(SA.PaymentStatus) ?? info.status.name)
        : info.status.name,
    running,
  };
}

function serviceReversalOf(info: WorkflowExecutionInfo): ServiceReversal {
  const running = info.status.name === 'RUNNING';
  return {
    running,
    status:
      running || info.status.name === 'COMPLETED'
        ? (info.typedSearchAttributes.get(SA.PaymentStatus) ?? info.status.name)
        : info.status.name,
  };
}

/**
 * Lists the day's runs on the payments pool's `taskQueue` into sorted spills under
 * `spillDir`; counts them in `progress`, heartbeating every page.
 */
export async function listServiceSide(
  temporal: Client,
  day: { taskQueue: string; start: Date; end: Date },
  spill: { dir: string; runSize?: number },
  progress: ReconcileProgress,
  beat: () => void,
): Promise<ServiceSide> {
  const list = async (query: string, each: (info: WorkflowExecutionInfo) => Promise<void> | void) => {
    for await (const info of temporal.workflow.list({ query, pageSize: VISIBILITY_PAGE_SIZE })) {
      await each(info);
      if (++progress.serviceRunsListed % VISIBILITY_PAGE_SIZE === 0) beat();
    }
  };
  const tq = `TaskQueue = ${q(day.taskQueue)}`;
  const from = q(day.start.toISOString());
  const to = q(day.end.toISOString());
  const payments = new SortedSpill<ServicePayment>(spill.dir, 'service-payments', spill.runSize);
  // A transaction listed twice (closed, then running again) keeps its last listing.
  const addPayment = (info: WorkflowExecutionInfo) => {
    const p = servicePaymentOf(info);
    return payments.add(p.txid, p);
  };
  await list(
    `WorkflowType = 'paymentWorkflow' AND ${tq} AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew' AND CloseTime >= ${from} AND CloseTime < ${to}`,
    addPayment,
  );
  await list(
    `WorkflowType = 'paymentWorkflow' AND ${tq} AND ExecutionStatus = 'Running' AND StartTime >= ${from} AND StartTime < ${to}`,
    addPayment,
  );
  const reversals = new SortedSpill<ServiceReversal>(spill.dir, 'service-reversals', spill.runSize);
  await list(`WorkflowType = 'reversalWorkflow' AND ${tq} AND StartTime >= ${from}`, (info) => {
    const txid =
      info.typedSearchAttributes.get(SA.TransactionId) ?? info.workflowId.replace(/^reversal-/, '');
    return reversals.add(txid, serviceReversalOf(info));
  });
  const pendingEvents = new Set<string>();
  await list(`WorkflowType = 'reversalEventWorkflow' AND ${tq} AND ExecutionStatus = 'Running'`, (info) => {
    pendingEvents.add(info.typedSearchAttributes.get(SA.TransactionId) ?? '');
  });
  return { payments, reversals, pendingEvents };
}
