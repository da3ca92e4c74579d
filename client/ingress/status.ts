/**
 * The lifecycle of one transaction as IC and operators see it: its one run
 * `payment-<txid>` (workflows/transaction.ts), read from Temporal (no separate database).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SA, workflowIds, type TransactionState, transactionStateQuery } from '../../domain';
import type { Answer } from './answers';
import type { IntakeDeps } from './runs';

export interface PaymentView {
  transaction_id: string;
  status: string;
  /** RUNNING, COMPLETED, TERMINATED… of the transaction's latest run. */
  run_status: string;
  /** NO / MAYBE / YES: whether IMT holds the payment (MAYBE: an attempt got no definite answer). */
  imt_holds?: string;
  attempts?: number;
  reversal?: { kind?: string; imt_holds?: string; record?: unknown; late_return?: boolean };
  needs_attention?: { reason: string; imt_may_hold: boolean; since: string };
  last_error?: unknown;
  posted?: unknown;
  events?: unknown;
  ui_url?: string;
}

export function uiUrl(base: string | undefined, namespace: string, workflowId: string): string | undefined {
  return base
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`
    : undefined;
}

/** The state by query (open and closed runs, while a worker is up); the search attribute otherwise. */
export async function lookupPayment(
  client: Client,
  transactionId: string,
  uiBase: string | undefined,
  namespace: string,
): Promise<PaymentView | undefined> {
  const workflowId = workflowIds.payment(transactionId);
  const handle = client.workflow.getHandle(workflowId);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const state: TransactionState | undefined = await handle
    .query(transactionStateQuery)
    .catch(() => undefined);
  const view: PaymentView = {
    transaction_id: transactionId,
    status: state?.status ?? String(desc.typedSearchAttributes.get(SA.PaymentStatus) ?? 'UNKNOWN'),
    run_status: desc.status.name,
    ui_url: uiUrl(uiBase, namespace, workflowId),
  };
  if (!state) return view;
  return {
    ...view,
    imt_holds: state.posting.holds,
    attempts: state.posting.attempts,
    reversal: state.reversalKind
      ? {
          kind: state.reversalKind,
          imt_holds: state.reversal.holds,
          record: state.reversed,
          late_return: state.lateReturn,
        }
      : undefined,
    needs_attention: state.parked
      ? { reason: state.parked.reason, imt_may_hold: state.parked.imtMayHold, since: state.parked.since }
      : undefined,
    last_error: state.lastError,
    posted: state.posted,
    events: state.log,
  };
}

/** The status call (contracts B `GET …/payments/<transaction_id>`). */
export async function paymentStatus(deps: IntakeDeps, transactionId: string): Promise<Answer> {
  const view = await lookupPayment(deps.client, transactionId, deps.temporalUiUrl, deps.namespace);
  if (view) return { kind: 'found', body: view };
  return { kind: 'not-found', body: { error: 'not_found', message: `No payment ${transactionId}.` } };
}
