/**
 * The service's side of a biller day, read from Temporal's visibility store (memo + search
 * attributes: no per-run call). Which runs belong to the day is explained at the top of
 * activities/reconcile.ts.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { toCents, PaymentStatus, SA, TRANSACTION_WORKFLOW_TYPE, type ReconcileProgress } from '../domain';
import type { ServicePayment } from './reconcile-compare';
import { SortedSpill } from './sorted-spill';

const VISIBILITY_PAGE_SIZE = 1000;

export interface ServiceSide {
  /** The day's transaction runs, by transaction ID (spilled to disk past one spill run). */
  runs: SortedSpill<ListedRun>;
}

/** One run of a transaction as the day's visibility listing shows it. */
export interface ListedRun {
  payment: ServicePayment;
  /** Its start time (ms): of a transaction's runs listed the same day, the latest stands for it. */
  startedAt: number;
  /** It continued as new after the day: its next run (not listed) tells where it stands. */
  continuedAsNew: boolean;
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

/** Statuses in which the run is still working on the transaction (while it runs). */
const PENDING = new Set<string>([
  PaymentStatus.AWAITING_PAYMENT,
  PaymentStatus.POSTING,
  PaymentStatus.MAYBE_POSTED,
  PaymentStatus.NEEDS_ATTENTION,
  PaymentStatus.REVERSING,
]);
/** Statuses that stay true of a run that was terminated (or failed) afterwards: IMT confirmed them, or a person closed it. */
const SETTLED = new Set<string>([
  PaymentStatus.POSTED,
  PaymentStatus.REVERSING,
  PaymentStatus.REVERSED,
  PaymentStatus.NOT_POSTED,
  PaymentStatus.DISMISSED,
]);

export function servicePaymentOf(
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'typedSearchAttributes' | 'status'>,
): ServicePayment {
  const sa = info.typedSearchAttributes;
  const memo = (info.memo ?? {}) as { amount?: unknown };
  const execution = info.status.name;
  // A run that continued as new goes on in its next run (listed, or described, instead).
  const running = execution === 'RUNNING' || execution === 'CONTINUED_AS_NEW';
  const shown = sa.get(SA.PaymentStatus);
  // A terminated / failed run no longer works on anything: an unsettled status is not true any more.
  const status =
    running || execution === 'COMPLETED'
      ? (shown ?? execution)
      : shown && SETTLED.has(shown)
        ? shown
        : execution;
  return {
    txid: sa.get(SA.TransactionId) ?? info.workflowId.replace(/^payment-/, ''),
    workflowId: info.workflowId,
    runId: info.runId,
    customer: sa.get(SA.CustomerId) ?? '',
    invoice: sa.get(SA.InvoiceNumber) ?? '',
    cents: centsOrNull(memo.amount),
    status,
    running,
    pending: running && PENDING.has(status),
  };
}

/**
 * Of one transaction's runs listed for the day, the one that stands for it: the latest started
 * (the last listed of equal start times).
 */
export function latestRun(runs: ListedRun[]): ListedRun | undefined {
  let latest: ListedRun | undefined;
  for (const run of runs) if (!latest || run.startedAt >= latest.startedAt) latest = run;
  return latest;
}

/** Where the listed run's transaction stands: the run itself, or, continued as new, the workflow ID's current run. */
export async function currentPayment(temporal: Client, run: ListedRun): Promise<ServicePayment> {
  return run.continuedAsNew
    ? servicePaymentOf(await temporal.workflow.getHandle(run.payment.workflowId).describe())
    : run.payment;
}

/**
 * Lists the day's transaction runs on the payments pool's `taskQueue` into a sorted spill
 * under `spill.dir`; counts them in `progress`, heartbeating every page.
 */
export async function listServiceSide(
  temporal: Client,
  day: { taskQueue: string; start: Date; end: Date },
  spill: { dir: string; runSize?: number },
  progress: ReconcileProgress,
  beat: () => void,
): Promise<ServiceSide> {
  const tq = `TaskQueue = ${q(day.taskQueue)}`;
  const from = q(day.start.toISOString());
  const to = q(day.end.toISOString());
  // One run per transaction, open (asleep while a void / ACH reject can come) or closed; a
  // run continued as new, or a transaction reopened the same day, lists more than one run of
  // the same workflow ID: the merge keeps the latest started (latestRun).
  const runs = new SortedSpill<ListedRun>(spill.dir, 'service-runs', spill.runSize);
  const query = `WorkflowType = ${q(TRANSACTION_WORKFLOW_TYPE)} AND ${tq} AND StartTime >= ${from} AND StartTime < ${to}`;
  for await (const info of temporal.workflow.list({ query, pageSize: VISIBILITY_PAGE_SIZE })) {
    const payment = servicePaymentOf(info);
    await runs.add(payment.txid, {
      payment,
      startedAt: info.startTime.getTime(),
      continuedAsNew: info.status.name === 'CONTINUED_AS_NEW',
    });
    if (++progress.serviceRunsListed % VISIBILITY_PAGE_SIZE === 0) beat();
  }
  beat();
  return { runs };
}
