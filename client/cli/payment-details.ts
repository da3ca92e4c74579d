/**
 * `payments show`: everything Temporal knows of one transaction — its run's state (status,
 * whether IMT holds the payment, attempts, the reversal, why a person is needed, the last
 * error, the run's log), links into the Temporal UI — and what an operator should do next.
 */
import { workflowListUiUrl, workflowUiUrl } from '../../common/ui';
import { PaymentStatus, SA, workflowIds, type ImtHolds, type TransactionState } from '../../domain';
import type { CommandContext } from './context';
import { formatTime, renderFields } from './format';
import { describeOrUndefined, readState } from './payment-runs';

export interface ReversalDetails {
  /** Which event owns the reversal: the first that came. */
  kind: 'void' | 'ach_reject';
  /** Whether IMT holds the reversal: NO, MAYBE (an attempt got no definite answer) or YES. */
  imt_holds: ImtHolds;
  attempts: number;
  imt_reversal_id?: string | number;
  return_code?: string | null;
  /** An ACH return after its code's window (flagged; IMT reverses it all the same). */
  late_return?: boolean;
}

export interface NeedsAttention {
  reason: string;
  /** IMT may hold money this run cannot account for: compare with IMT before dismissing. */
  imt_may_hold: boolean;
  since: string;
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
  /** Posting attempts. */
  attempts?: number;
  /** Whether IMT holds the payment: NO, MAYBE (an attempt got no definite answer) or YES. */
  imt_holds?: ImtHolds;
  imt_payment_id?: string | number;
  posted_at?: string;
  reversal?: ReversalDetails;
  needs_attention?: NeedsAttention;
  /** An event that came before its payment and does not match it. */
  mismatch?: string[];
  last_error?: TransactionState['lastError'];
  closing_reason?: string;
  /** The run's log (latest last). */
  log?: TransactionState['log'];
  state_note?: string;
  ui_url?: string;
  ui_search_url?: string;
}

/** Everything `payments show` prints. Undefined when Temporal knows no run of this transaction. */
export async function paymentDetails(
  ctx: CommandContext,
  transactionId: string,
): Promise<PaymentDetails | undefined> {
  const workflowId = workflowIds.payment(transactionId);
  const desc = await describeOrUndefined(ctx.client, workflowId);
  if (!desc) return undefined;
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
    attempts: state?.posting.attempts,
    imt_holds: state?.posting.holds,
    imt_payment_id: state?.posted?.id,
    posted_at: state?.postedAt,
    reversal: state ? reversalOf(state) : undefined,
    needs_attention: state?.parked
      ? { reason: state.parked.reason, imt_may_hold: state.parked.imtMayHold, since: state.parked.since }
      : undefined,
    mismatch: state?.mismatch,
    last_error: state?.lastError,
    closing_reason: state?.closingReason,
    log: state?.log,
    state_note: note,
    ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, workflowId),
    // Earlier runs of the same transaction (continued as new, or reopened by a late event).
    ui_search_url: workflowListUiUrl(ctx.temporalUiUrl, ctx.namespace, `TransactionId="${transactionId}"`),
  };
}

function reversalOf(state: TransactionState): ReversalDetails | undefined {
  const kind = state.reversalKind;
  if (!kind) return undefined;
  return {
    kind,
    imt_holds: state.reversal.holds,
    attempts: state.reversal.attempts,
    imt_reversal_id: state.reversed?.id,
    return_code: kind === 'ach_reject' ? state.events.ach_reject?.return_code : undefined,
    late_return: state.lateReturn,
  };
}

function describeError(e: NonNullable<PaymentDetails['last_error']>): string {
  // IMT's reasons are usually in the message already; print them separately only when not.
  const json = e.reasons === undefined ? '' : JSON.stringify(e.reasons);
  const reasons = json && !e.message.includes(json) ? `\nreasons: ${json}` : '';
  return `${e.type}${e.status ? ` (HTTP ${e.status})` : ''} at ${formatTime(e.at)}\n${e.message}${reasons}`;
}

function imtHoldsText(holds: ImtHolds, attempts: number | undefined, what: 'posting' | 'reversal'): string {
  switch (holds) {
    case 'YES':
      return `yes — IMT confirmed the ${what}`;
    case 'MAYBE':
      return 'MAYBE — an attempt got no definite answer; IMT may have applied it';
    case 'NO':
      return attempts
        ? `no — every attempt was answered, and nothing was applied (or IMT's record shows none)`
        : 'no — nothing was sent to IMT';
  }
}

const KIND_NAME = { void: 'void', ach_reject: 'ACH reject' } as const;

function reversalText(r: ReversalDetails): string {
  const head = `${KIND_NAME[r.kind]}${r.return_code ? ` ${r.return_code}` : ''}${r.late_return ? ' (late return: after its code’s window)' : ''}`;
  const id = r.imt_reversal_id === undefined ? '' : ` (IMT reversal ${r.imt_reversal_id})`;
  return `${head}\nIMT holds it: ${imtHoldsText(r.imt_holds, r.attempts, 'reversal')}${id}\nattempts: ${r.attempts}`;
}

function attentionText(n: NeedsAttention): string {
  return (
    `${n.reason}\nsince ${formatTime(n.since)}; ` +
    (n.imt_may_hold
      ? 'IMT MAY HOLD money for it that the run cannot account for: compare with IMT before acting'
      : 'IMT holds nothing for it that the run does not know of')
  );
}

function nextSteps(d: PaymentDetails): string | undefined {
  switch (d.status) {
    case PaymentStatus.NEEDS_ATTENTION: {
      const act =
        `  imt-ic payments retry ${d.transaction_id}     (go on: post, reverse or read IMT's record again)\n` +
        `  imt-ic payments dismiss ${d.transaction_id} --reason "<why>"     (close it as it is)`;
      if (d.mismatch)
        return `A void / ACH reject that arrived first does not match this payment. Check with IC, then:\n${act}`;
      return `${d.needs_attention?.imt_may_hold ? 'Check IMT first (it MAY hold the money). ' : ''}Fix the cause, then:\n${act}`;
    }
    case PaymentStatus.POSTING:
      return 'IMT has not taken the payment yet; the service retries with backoff (at most 5 minutes apart) until IMT answers.';
    case PaymentStatus.MAYBE_POSTED:
      return "An attempt got no definite answer, so IMT may already hold this payment. The service retries with the same transaction_id (IMT deduplicates it), or reads IMT's record of the transaction, until it knows for sure. Do not post it by hand.";
    case PaymentStatus.REVERSING:
      return 'IMT holds the payment and a void / ACH reject asks for it back: the service reverses it (retried until IMT answers). Nothing to do unless it parks.';
    case PaymentStatus.AWAITING_PAYMENT:
      return 'A void / ACH reject came before its payment: the run waits for IC to send the payment (then nothing is posted), and asks a person if it never comes.';
    default:
      return undefined;
  }
}

export function renderDetails(d: PaymentDetails): string {
  const closed = d.run_status === 'RUNNING' ? '' : ` (run ${d.run_status.toLowerCase()})`;
  const head = `Payment ${d.transaction_id} — ${d.status}${d.reversal ? ` · ${KIND_NAME[d.reversal.kind]}` : ''}${closed}\n`;
  const run = `${d.workflow_id}, ${d.run_status.toLowerCase()}, started ${formatTime(d.started_at)}${d.closed_at ? `, closed ${formatTime(d.closed_at)}` : ''}`;
  let out =
    head +
    renderFields([
      ['Summary', d.summary],
      ['Amount', d.amount ? `${d.amount}${d.payment_method ? ` (${d.payment_method})` : ''}` : undefined],
      ['Invoice', d.invoice_number],
      ['Customer', d.customer],
      ['Run', run],
      ['IMT holds it', d.imt_holds ? imtHoldsText(d.imt_holds, d.attempts, 'posting') : undefined],
      ['Attempts', d.attempts === undefined ? undefined : String(d.attempts)],
      [
        'IMT payment',
        d.imt_payment_id === undefined
          ? undefined
          : `${d.imt_payment_id}${d.posted_at ? `, posted ${formatTime(d.posted_at)}` : ''}`,
      ],
      ['Reversal', d.reversal ? reversalText(d.reversal) : undefined],
      ['Needs attention', d.needs_attention ? attentionText(d.needs_attention) : undefined],
      ['Mismatch', d.mismatch?.join('; ')],
      ['Last error', d.last_error ? describeError(d.last_error) : undefined],
      ['Closing reason', d.closing_reason],
      ['Note', d.state_note],
      ['Temporal UI', d.ui_url],
      ['All runs', d.ui_search_url],
    ]);
  if (d.log?.length) {
    out += '\nLog (latest last)\n';
    out += d.log
      .map((e) => `  ${formatTime(e.at)}  ${e.event}${e.detail ? ` — ${e.detail}` : ''}`)
      .join('\n');
    out += '\n';
  }
  const next = nextSteps(d);
  if (next) out += `\nNext step\n${next.replace(/^/gm, '  ')}\n`;
  return out;
}
