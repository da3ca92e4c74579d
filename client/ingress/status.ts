/**
 * The lifecycle of one transaction as IC and operators see it: the payment run plus any
 * void / ACH-reject runs, read from Temporal (no separate database).
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { SA, workflowIds, type PaymentState, paymentStateQuery } from '../../domain';
import type { Answer } from './answers';
import type { IntakeDeps } from './runs';

export interface RunView {
  workflow_id: string;
  run_status: string;
  status?: string;
  ui_url?: string;
  state?: unknown;
}

export interface PaymentView {
  transaction_id: string;
  status: string;
  attempts?: number;
  /** NO / MAYBE / YES: whether IMT holds the payment (MAYBE: an attempt got no definite answer). */
  imt_holds?: string;
  /** How a void / ACH reject that stopped the payment was resolved. */
  settlement?: string;
  last_error?: unknown;
  posted?: unknown;
  events?: unknown;
  runs: RunView[];
}

export function uiUrl(base: string | undefined, namespace: string, workflowId: string): string | undefined {
  return base
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`
    : undefined;
}

async function describeRun(
  client: Client,
  workflowId: string,
  uiBase: string | undefined,
  namespace: string,
): Promise<{ view: RunView; handle: WorkflowHandle } | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    return {
      handle,
      view: {
        workflow_id: workflowId,
        run_status: desc.status.name,
        status: desc.typedSearchAttributes.get(SA.PaymentStatus) as string | undefined,
        ui_url: uiUrl(uiBase, namespace, workflowId),
      },
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Reads the state by query (works for open and closed runs while a worker is up). */
async function readState(handle: WorkflowHandle): Promise<PaymentState | undefined> {
  try {
    return await handle.query(paymentStateQuery);
  } catch {
    return undefined;
  }
}

export async function lookupPayment(
  client: Client,
  transactionId: string,
  uiBase: string | undefined,
  namespace: string,
): Promise<PaymentView | undefined> {
  const ids = [
    workflowIds.payment(transactionId),
    workflowIds.void(transactionId),
    workflowIds.achReject(transactionId),
    workflowIds.reversal(transactionId),
  ];
  const runs = await Promise.all(ids.map((id) => describeRun(client, id, uiBase, namespace)));
  const found = runs.filter((r): r is NonNullable<typeof r> => r !== undefined);
  if (found.length === 0) return undefined;

  const payment = runs[0];
  const state = payment ? await readState(payment.handle) : undefined;
  for (const r of found.slice(payment ? 1 : 0)) r.view.state = await readState(r.handle);
  return {
    transaction_id: transactionId,
    status: lifecycleStatus(
      state?.status ?? payment?.view.status,
      runs[1]?.view,
      runs[2]?.view,
      runs[3]?.view,
    ),
    attempts: state?.attempts,
    imt_holds: state?.imtHolds,
    settlement: state?.settlement,
    last_error: state?.lastError,
    posted: state?.posted,
    events: state?.events,
    runs: found.map((r) => r.view),
  };
}

/** The status call (contracts B `GET …/payments/<transaction_id>`). */
export async function paymentStatus(deps: IntakeDeps, transactionId: string): Promise<Answer> {
  const view = await lookupPayment(deps.client, transactionId, deps.temporalUiUrl, deps.namespace);
  if (view) return { kind: 'found', body: view };
  return { kind: 'not-found', body: { error: 'not_found', message: `No payment ${transactionId}.` } };
}

/**
 * One status for the whole transaction: the reversal's when there is one (VOIDED,
 * ACH_REJECTED, LATE_RETURN, NEEDS_ATTENTION…), else a waiting or parked void/ACH event,
 * else the payment's.
 */
function lifecycleStatus(
  paymentStatus: string | undefined,
  voidRun: RunView | undefined,
  achRun: RunView | undefined,
  reversalRun: RunView | undefined,
): string {
  if (reversalRun?.status) return reversalRun.status;
  if (paymentStatus === 'VOIDED_BEFORE_POSTING') return paymentStatus;
  for (const run of [voidRun, achRun]) {
    if (
      run?.status &&
      ['NEEDS_ATTENTION', 'AWAITING_PAYMENT', 'AWAITING_POSTING_OUTCOME', 'VOIDED_BEFORE_POSTING'].includes(
        run.status,
      )
    )
      return run.status;
  }
  return paymentStatus ?? voidRun?.status ?? achRun?.status ?? 'UNKNOWN';
}
