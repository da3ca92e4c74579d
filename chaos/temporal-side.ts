/**
 * What the chaos run reads from Temporal at the end: whether every run has settled, which
 * runs are parked for a person (and why), and how many Temporal actions a payment cost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { PaymentStatus, SA, TRANSACTION_WORKFLOW_TYPE, workflowIds, type TransactionState } from '../domain';

/** Workflow types that may stay open by design (they batch alerts), whatever the payments do. */
const LONG_LIVED = new Set(['alertDigestWorkflow', 'scheduledExportWorkflow', 'scheduledReconcileWorkflow']);

/**
 * A transaction's run stays open, asleep, once it has settled — until its payment's return
 * window closes (days) — so an open run in one of these statuses has nothing left to do.
 */
const SETTLED_TRANSACTION = new Set<string>([
  PaymentStatus.POSTED,
  PaymentStatus.REVERSED,
  PaymentStatus.NOT_POSTED,
  PaymentStatus.DISMISSED,
  PaymentStatus.NEEDS_ATTENTION,
]);

export interface Unsettled {
  count: number;
  byStatus: Record<string, number>;
}

/** Open runs that still work: neither settled (a transaction asleep), parked for a person nor long-lived by design. */
export async function unsettled(client: Client): Promise<Unsettled> {
  const byStatus: Record<string, number> = {};
  let count = 0;
  for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
    if (LONG_LIVED.has(wf.type)) continue;
    const status = String(
      wf.typedSearchAttributes.get(SA.PaymentStatus) ?? wf.typedSearchAttributes.get(SA.ExportStatus) ?? '-',
    );
    if (status === 'NEEDS_ATTENTION') continue;
    if (wf.type === TRANSACTION_WORKFLOW_TYPE && SETTLED_TRANSACTION.has(status)) continue;
    count++;
    const key = `${wf.type}:${status}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  return { count, byStatus };
}

/** Waits (bounded) until nothing is left but parked or long-lived runs; returns a problem or undefined. */
export async function waitSettled(
  client: Client,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: Unsettled = { count: -1, byStatus: {} };
  let lastLog = 0;
  while (Date.now() < deadline) {
    try {
      last = await unsettled(client);
      if (last.count === 0) return undefined;
    } catch (err) {
      log(`[chaos] settle check failed (retrying): ${err instanceof Error ? err.message : String(err)}`);
    }
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(`[chaos] waiting for ${last.count} runs to settle: ${JSON.stringify(last.byStatus)}`);
    }
    await sleep(3000);
  }
  return `${last.count} runs still open after ${Math.round(timeoutMs / 1000)} s: ${JSON.stringify(last.byStatus)}`;
}

/**
 * transaction_id → reason, for every transaction whose run is parked in NEEDS_ATTENTION (the
 * only way its money may differ from what IC asked for: a person decides).
 */
export async function parkedRuns(client: Client): Promise<Map<string, string>> {
  const parked = new Map<string, string>();
  const query = `ExecutionStatus = "Running" AND WorkflowType = "${TRANSACTION_WORKFLOW_TYPE}" AND PaymentStatus = "NEEDS_ATTENTION"`;
  for await (const wf of client.workflow.list({ query })) {
    const txid = wf.typedSearchAttributes.get(SA.TransactionId);
    if (typeof txid !== 'string') continue;
    let reason = `${wf.type} NEEDS_ATTENTION`;
    try {
      // The `state` query of the transaction's run (domain/messages.ts transactionStateQuery).
      const state = await client.workflow.getHandle(wf.workflowId).query<TransactionState>('state');
      reason = state.mismatch?.length
        ? `early event does not match: ${state.mismatch.join(', ')}`
        : `${state.lastError?.type ?? 'no error type'}: ${(state.parked?.reason ?? state.lastError?.message ?? '').slice(0, 80)}` +
          (state.parked?.imtMayHold ? ' (IMT MAY HOLD it)' : '');
    } catch {
      // no worker answered: keep the generic reason
    }
    parked.set(txid, reason);
  }
  return parked;
}

/** Event types that Temporal Cloud bills as actions (approximation from history; retries added from attempts). */
const ACTION_EVENTS = new Set([
  'WORKFLOW_EXECUTION_STARTED',
  'ACTIVITY_TASK_SCHEDULED',
  'TIMER_STARTED',
  'WORKFLOW_EXECUTION_SIGNALED',
  'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED',
  'START_CHILD_WORKFLOW_EXECUTION_INITIATED',
  'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
  'WORKFLOW_PROPERTIES_MODIFIED',
  'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
  'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
  'MARKER_RECORDED',
]);

/**
 * Actions per payment, counted from the histories of a sample of transactions (the one run
 * of each takes its payment, void and ACH reject; still open, asleep, for the later ones):
 * billable event types plus each activity retry (ActivityTaskStarted.attempt − 1). Queries
 * and the ingress's describe calls are not counted.
 */
export async function actionsPerPayment(
  client: Client,
  transactionIds: string[],
  sample = 100,
): Promise<{ perPayment: number; how: string }> {
  const step = Math.max(1, Math.floor(transactionIds.length / sample));
  const picked = transactionIds.filter((_, i) => i % step === 0).slice(0, sample);
  let actions = 0;
  let events = 0;
  for (const txid of picked) {
    let history;
    try {
      history = await client.workflow.getHandle(workflowIds.payment(txid)).fetchHistory();
    } catch {
      continue;
    }
    for (const e of history.events ?? []) {
      events++;
      const type = eventTypeName(e.eventType);
      if (ACTION_EVENTS.has(type)) actions++;
      const attempt = e.activityTaskStartedEventAttributes?.attempt;
      if (attempt && attempt > 1) actions += attempt - 1;
    }
  }
  const n = picked.length || 1;
  return {
    perPayment: actions / n,
    how: `from the histories of ${picked.length} sampled transactions, ${(events / n).toFixed(1)} events each`,
  };
}

function eventTypeName(type: unknown): string {
  if (typeof type === 'string') return type.replace(/^EVENT_TYPE_/, '');
  // The proto enum as a number: map through the SDK's generated enum names.
  return EVENT_TYPE_NAMES[Number(type)] ?? String(type);
}

// temporal.api.enums.v1.EventType numbering (stable in the public API).
const EVENT_TYPE_NAMES: Record<number, string> = {
  1: 'WORKFLOW_EXECUTION_STARTED',
  10: 'ACTIVITY_TASK_SCHEDULED',
  17: 'TIMER_STARTED',
  25: 'MARKER_RECORDED',
  26: 'WORKFLOW_EXECUTION_SIGNALED',
  28: 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
  29: 'START_CHILD_WORKFLOW_EXECUTION_INITIATED',
  37: 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED',
  40: 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
  41: 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
  46: 'WORKFLOW_PROPERTIES_MODIFIED',
};
