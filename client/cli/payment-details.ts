/**
 * `payments show`: everything Temporal knows of one payment — its state, attempts, last
 * error, the void / ACH reject runs of the same transaction, links into the Temporal UI —
 * and what an operator should do next.
 */
import { workflowListUiUrl, workflowUiUrl } from '../../common/ui';
import { PaymentStatus, SA, workflowIds, type PaymentState } from '../../domain';
import type { CommandContext } from './context';
import { formatTime, renderFields } from './format';
import { REVERSAL_WORKFLOW_TYPE, describeOrUndefined, readState } from './payment-runs';

export interface RelatedRun {
  workflow_id: string;
  type: string;
  run_status: string;
  status?: string;
  summary?: string;
  ui_url?: string;
}

export interface PaymentDetails {
  transaction_id: string;
  workflow_id: string;
  status: string;
  run_status: string;
  summary?: string;
  invoice_number?: string;
  customer?: string;
  amount?: string;
  payment_method?: string;
  started_at: string;
  closed_at?: string;
  attempts?: number;
  last_error?: PaymentState['lastError'];
  imt_payment_id?: string | number;
  closing_reason?: string;
  /** Whether IMT holds the payment: NO, MAYBE (an attempt got no definite answer) or YES. */
  imt_holds?: PaymentState['imtHolds'];
  /** How a void / ACH reject that stopped this payment was resolved. */
  settlement?: PaymentState['settlement'];
  mismatch?: PaymentState['mismatch'];
  events?: PaymentState['events'];
  state_note?: string;
  /** Status of the transaction's reversal run (VOIDED, ACH_REJECTED, LATE_RETURN, …), if any. */
  reversal_status?: string;
  related_runs: RelatedRun[];
  ui_url?: string;
  ui_search_url?: string;
}

/** Everything `payments show` prints. Undefined when Temporal knows no run of this transaction. */
export async function paymentDetails(
  ctx: CommandContext,
  transactionId: string,
): Promise<PaymentDetails | undefined> {
  const workflowId = workflowIds.payment(transactionId);
  // Reversal runs (void-…, ach-reject-…, …) are keyed by the same transaction ID.
  const relatedIds = [workflowIds.void, workflowIds.achReject, workflowIds.reversal].map((id) =>
    id(transactionId),
  );
  const [desc, ...relatedDescs] = await Promise.all(
    [workflowId, ...relatedIds].map((id) => describeOrUndefined(ctx.client, id)),
  );
  const related: RelatedRun[] = [];
  for (const [i, d] of relatedDescs.entries()) {
    if (!d) continue;
    related.push({
      workflow_id: relatedIds[i],
      type: d.type,
      run_status: d.status.name,
      status: d.typedSearchAttributes.get(SA.PaymentStatus),
      summary: await d.staticSummary().catch(() => undefined),
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, relatedIds[i]),
    });
  }
  if (!desc && related.length === 0) return undefined;

  const ui_search_url = workflowListUiUrl(
    ctx.temporalUiUrl,
    ctx.namespace,
    `TransactionId="${transactionId}"`,
  );
  if (!desc) {
    return {
      transaction_id: transactionId,
      workflow_id: workflowId,
      status: 'NOT_RECEIVED',
      run_status: 'NONE',
      started_at: '',
      state_note: 'no payment run: IC sent a void or ACH reject for a payment this service has not received',
      related_runs: related,
      ui_search_url,
    };
  }
  const { state, note } = await readState(ctx.client, workflowId, desc.status.name);
  const memo = (desc.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
  return {
    transaction_id: transactionId,
    workflow_id: workflowId,
    status: state?.status ?? desc.typedSearchAttributes.get(SA.PaymentStatus) ?? 'UNKNOWN',
    run_status: desc.status.name,
    summary: await desc.staticSummary().catch(() => undefined),
    invoice_number: desc.typedSearchAttributes.get(SA.InvoiceNumber),
    customer: desc.typedSearchAttributes.get(SA.CustomerId),
    amount: state?.payment?.amount ?? (typeof memo.amount === 'string' ? memo.amount : undefined),
    payment_method:
      state?.payment?.payment_method ??
      (typeof memo.payment_method === 'string' ? memo.payment_method : undefined),
    started_at: desc.startTime.toISOString(),
    closed_at: desc.closeTime?.toISOString(),
    attempts: state?.attempts,
    last_error: state?.lastError,
    imt_payment_id: state?.posted?.id,
    closing_reason: state?.closingReason,
    imt_holds: state?.imtHolds,
    settlement: state?.settlement,
    mismatch: state?.mismatch,
    events: state?.events,
    state_note: note,
    reversal_status: related.find((r) => r.type === REVERSAL_WORKFLOW_TYPE)?.status,
    related_runs: related,
    ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, workflowId),
    ui_search_url,
  };
}

function describeError(e: NonNullable<PaymentState['lastError']>): string {
  // IMT's reasons are usually in the message already; print them separately only when not.
  const json = e.reasons === undefined ? '' : JSON.stringify(e.reasons);
  const reasons = json && !e.message.includes(json) ? `\nreasons: ${json}` : '';
  return `${e.type}${e.status ? ` (HTTP ${e.status})` : ''} at ${formatTime(e.at)}\n${e.message}${reasons}`;
}

const IMT_HOLDS_TEXT: Record<NonNullable<PaymentState['imtHolds']>, string> = {
  NO: 'no — every attempt was answered, and nothing was applied',
  MAYBE: 'MAYBE — an attempt got no definite answer; IMT may have applied it',
  YES: 'yes — IMT confirmed the posting',
};

const SETTLEMENT_TEXT: Record<NonNullable<PaymentState['settlement']>, string> = {
  'never-sent': 'stopped by a void / ACH reject before anything was sent to IMT',
  'imt-refused': 'stopped by a void / ACH reject; IMT definitely refused the posting, so nothing was applied',
  'posted-to-settle':
    'IMT may have had it, so the posting was finished and then reversed by the void / ACH reject',
};

function nextSteps(d: PaymentDetails): string | undefined {
  switch (d.status) {
    case PaymentStatus.NEEDS_ATTENTION:
      if (d.mismatch)
        return (
          `A void / ACH reject that arrived first does not match this payment. Check with IC, then:\n` +
          `  imt-ic payments retry ${d.transaction_id}     (post it; the event stays parked)\n` +
          `  imt-ic payments dismiss ${d.transaction_id} --reason "<why>"     (never post it)`
        );
      return (
        `IMT refused this payment. Fix the cause in IMT, then:\n` +
        `  imt-ic payments retry ${d.transaction_id}\n` +
        `or, if it must not be posted:\n` +
        `  imt-ic payments dismiss ${d.transaction_id} --reason "<why>"`
      );
    case PaymentStatus.RETRYING:
      return 'IMT is failing transiently; the service retries with backoff (at most 5 minutes apart) until IMT answers.';
    case PaymentStatus.MAYBE_POSTED:
      return 'An attempt got no definite answer, so IMT may already hold this payment. The service retries with the same transaction_id (IMT deduplicates it) until IMT answers for sure. Do not post it by hand.';
    case PaymentStatus.SETTLING:
      return 'A void / ACH reject arrived while IMT may hold this payment: the service finishes the posting (idempotently) and then reverses it. Nothing to do unless it parks.';
    case PaymentStatus.AUTH_REJECTED:
      return 'IMT rejects the configured X-Integrator-ID. Fix IMT_INTEGRATOR_ID; the service retries every minute.';
    default:
      return undefined;
  }
}

export function renderDetails(d: PaymentDetails): string {
  const head =
    `Payment ${d.transaction_id} — ${d.status}` +
    `${d.reversal_status ? `, then ${d.reversal_status}` : ''}` +
    `${d.run_status === 'RUNNING' || d.run_status === 'NONE' ? '' : ` (payment run ${d.run_status.toLowerCase()})`}\n`;
  const run =
    d.run_status === 'NONE'
      ? undefined
      : `${d.workflow_id}, ${d.run_status.toLowerCase()}, started ${formatTime(d.started_at)}${d.closed_at ? `, closed ${formatTime(d.closed_at)}` : ''}`;
  let out =
    head +
    renderFields([
      ['Summary', d.summary],
      ['Amount', d.amount ? `${d.amount}${d.payment_method ? ` (${d.payment_method})` : ''}` : undefined],
      ['Invoice', d.invoice_number],
      ['Customer', d.customer],
      ['Run', run],
      ['Attempts', d.attempts === undefined ? undefined : String(d.attempts)],
      ['Last error', d.last_error ? describeError(d.last_error) : undefined],
      ['IMT payment', d.imt_payment_id === undefined ? undefined : String(d.imt_payment_id)],
      ['IMT holds it', d.imt_holds ? IMT_HOLDS_TEXT[d.imt_holds] : undefined],
      ['Settlement', d.settlement ? SETTLEMENT_TEXT[d.settlement] : undefined],
      [
        'Mismatch',
        d.mismatch ? `${d.mismatch.requestedBy}: ${d.mismatch.differences.join('; ')}` : undefined,
      ],
      ['Closing reason', d.closing_reason],
      ['Note', d.state_note],
      ['Temporal UI', d.ui_url],
      ['All runs', d.ui_search_url],
    ]);
  if (d.related_runs.length) {
    out += '\nRelated runs\n';
    out += renderFields(
      d.related_runs.map((r): [string, string] => [
        r.workflow_id,
        `${r.run_status.toLowerCase()}${r.status ? ` · ${r.status}` : ''}${r.summary ? ` · ${r.summary}` : ''}${r.ui_url ? `\n${r.ui_url}` : ''}`,
      ]),
    );
  }
  if (d.events?.length) {
    out += '\nEvents (latest last)\n';
    out += d.events
      .slice(-12)
      .map((e) => `  ${formatTime(e.at)}  ${e.event}${e.detail ? ` — ${e.detail}` : ''}`)
      .join('\n');
    out += '\n';
  }
  const next = nextSteps(d);
  if (next) out += `\nNext step\n${next.replace(/^/gm, '  ')}\n`;
  return out;
}
