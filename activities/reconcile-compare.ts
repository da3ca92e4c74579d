/**
 * One transaction compared (contracts C4): the service's transaction run against IMT's record
 * of it, every difference as a report row of its kind, and the day's totals on both sides. No
 * I/O of its own: rows go to the `write` it is given, so the rules read in one place.
 */
import { toCents, PaymentStatus, ReconcileKind, type ReconcileRow, type ReconcileTotals } from '../domain';
import type { ImtListedPayment } from '../integrations/imt-payment-types';

/** A transaction's run as the service knows it, from visibility (or a describe). */
export interface ServicePayment {
  txid: string;
  workflowId: string;
  runId: string;
  customer: string;
  invoice: string;
  cents: number | null;
  /** PaymentStatus search attribute, else (a run closed before it settled) the run's execution status. */
  status: string;
  /** The run is open (asleep for a void / ACH reject, or still working). */
  running: boolean;
  /** The run is still working on it: not posted yet, a person must decide, or a reversal under way. */
  pending: boolean;
}

/** A payment as IMT lists it for the day, with its reversals folded in. */
export interface ImtSide {
  txid: string;
  customer: string;
  invoice: string;
  cents: number;
  reversalCents: number | null;
  reversal: string | null;
}

/** Statuses of a run whose payment IMT confirmed (whatever became of it since). */
const POSTED = new Set<string>([PaymentStatus.POSTED, PaymentStatus.REVERSING, PaymentStatus.REVERSED]);

export const emptyTotals = (): ReconcileTotals => ({
  deliveredCents: 0,
  postedCents: 0,
  reversedCents: 0,
  netCents: 0,
});

export function imtSideOf(p: ImtListedPayment): ImtSide {
  const reversalCents = p.reversals.length
    ? p.reversals.reduce((sum, r) => sum + toCents(r.amount), 0)
    : null;
  return {
    txid: p.transaction_id,
    customer: p.customer,
    invoice: p.invoice_number,
    cents: toCents(p.amount),
    reversalCents,
    reversal: p.reversals.length
      ? p.reversals
          .map((r) => (r.return_code ? `${r.reversal_type} ${r.return_code}` : r.reversal_type))
          .join(', ')
      : null,
  };
}

/** A report row; amounts and statuses default to each side's own. */
export function rowFor(
  kind: ReconcileKind,
  s: ServicePayment | undefined,
  m: ImtSide | undefined,
  detail: string,
  amounts?: { service: number | null; imt: number | null },
  statuses?: { service: string | null; imt: string | null },
): ReconcileRow {
  return {
    kind,
    transaction_id: s?.txid ?? m?.txid ?? '',
    customer: s?.customer || m?.customer || '',
    service_invoice_number: s?.invoice ?? null,
    imt_invoice_number: m?.invoice ?? null,
    service_amount_cents: amounts ? amounts.service : (s?.cents ?? null),
    imt_amount_cents: amounts ? amounts.imt : (m?.cents ?? null),
    service_status: statuses ? statuses.service : (s?.status ?? null),
    imt_status: statuses ? statuses.imt : m ? (m.reversal ?? 'POSTED') : null,
    detail,
  };
}

/** Where a posted payment's amount, invoice or reversal amount differ between the sides. */
function recordProblems(s: ServicePayment, m: ImtSide, reversedCents: number | null): string[] {
  const problems: string[] = [];
  if (s.cents !== m.cents) problems.push(`amount: service ${s.cents ?? '?'} cents, IMT ${m.cents} cents`);
  if (s.invoice !== m.invoice) problems.push(`invoice: service ${s.invoice}, IMT ${m.invoice}`);
  if (reversedCents !== null && m.reversalCents !== null && m.reversalCents !== reversedCents)
    problems.push(`reversal amount: service ${reversedCents} cents, IMT ${m.reversalCents} cents`);
  return problems;
}

/** A reversal one side has and the other has not. `reversed`: the service's run reversed the payment. */
function reversalDifference(s: ServicePayment, m: ImtSide, reversed: boolean): ReconcileRow | undefined {
  if (reversed && m.reversal === null)
    return rowFor(
      ReconcileKind.REVERSED_NOT_IN_IMT,
      s,
      m,
      `reversed by the service (${s.status}); IMT shows no reversal`,
      { service: s.cents ?? 0, imt: null },
      { service: s.status, imt: 'POSTED' },
    );
  if (!reversed && m.reversal !== null)
    return rowFor(
      ReconcileKind.REVERSED_IN_IMT_ONLY,
      s,
      m,
      `IMT shows a reversal (${m.reversal}) the service did not make`,
      { service: null, imt: m.reversalCents },
      { service: s.status, imt: m.reversal },
    );
  return undefined;
}

/** The comparison of one biller day: counts, totals and the rows it writes. */
export class DayComparison {
  readonly service = emptyTotals();
  readonly imt = emptyTotals();
  matched = 0;
  transactions = 0;

  constructor(
    private readonly date: string,
    private readonly write: (row: ReconcileRow) => Promise<void>,
  ) {}

  /** Counts one of IMT's records into IMT's totals (once per transaction, as listed). */
  countImt(m: ImtSide): void {
    this.imt.postedCents += m.cents;
    this.imt.reversedCents += m.reversalCents ?? 0;
  }

  /** A service run and (maybe) IMT's record of the same transaction. */
  async compare(s: ServicePayment, m: ImtSide | undefined): Promise<void> {
    this.transactions++;
    this.service.deliveredCents += s.cents ?? 0;
    if (s.pending && !POSTED.has(s.status)) {
      await this.write(rowFor(ReconcileKind.IN_FLIGHT, s, m, inFlightDetail(s.status, m !== undefined)));
      return;
    }
    if (!POSTED.has(s.status)) {
      if (m)
        await this.write(
          rowFor(
            ReconcileKind.IN_IMT_NOT_POSTED_BY_US,
            s,
            m,
            `the service received it and did not post it (${s.status}); IMT holds it`,
          ),
        );
      else this.matched++; // received, not posted, not in IMT: consistent
      return;
    }
    await this.comparePosted(s, m);
  }

  /** IMT holds a payment the service has no run for. */
  async notDelivered(m: ImtSide): Promise<void> {
    this.transactions++;
    await this.write(
      rowFor(
        ReconcileKind.IN_IMT_NOT_DELIVERED,
        undefined,
        m,
        'IMT holds this IC payment; the service never received it',
      ),
    );
  }

  /** Both sides' net amounts (and IMT's "delivered", which is what it holds), once all is compared. */
  closeTotals(): void {
    this.service.netCents = this.service.postedCents - this.service.reversedCents;
    this.imt.deliveredCents = this.imt.postedCents;
    this.imt.netCents = this.imt.postedCents - this.imt.reversedCents;
  }

  /** A transaction the service posted (IMT confirmed), compared with IMT's record (if any). */
  private async comparePosted(s: ServicePayment, m: ImtSide | undefined): Promise<void> {
    const cents = s.cents ?? 0;
    this.service.postedCents += cents;
    // Reversed whenever it was: IMT folds the reversal into the payment's day too.
    const reversed = s.status === PaymentStatus.REVERSED;
    if (reversed) this.service.reversedCents += cents;
    if (!m) {
      await this.write(
        rowFor(
          ReconcileKind.POSTED_NOT_IN_IMT,
          s,
          undefined,
          `posted by the service; IMT does not list it for ${this.date}` +
            (reversed ? ` (the service also reversed it: ${s.status})` : ''),
        ),
      );
      return;
    }
    const problems = recordProblems(s, m, reversed ? cents : null);
    if (problems.length)
      await this.write(rowFor(ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS, s, m, problems.join('; ')));
    // A void or ACH reject the run is still applying: in flight.
    if (s.pending) {
      await this.write(
        rowFor(
          ReconcileKind.IN_FLIGHT,
          s,
          m,
          'a void or ACH reject is being applied by the service',
          undefined,
          {
            service: s.status,
            imt: m.reversal ?? 'POSTED',
          },
        ),
      );
      return;
    }
    const reversalRow = reversalDifference(s, m, reversed);
    if (reversalRow) await this.write(reversalRow);
    if (problems.length === 0 && !reversalRow) this.matched++;
  }
}

/** Why a run that has not posted (or may have) is in flight, in the report's words. */
function inFlightDetail(status: string, inImt: boolean): string {
  if (status === PaymentStatus.NEEDS_ATTENTION)
    return inImt
      ? 'IMT has it; the service waits for a person (NEEDS_ATTENTION)'
      : 'a person must decide (NEEDS_ATTENTION)';
  if (status === PaymentStatus.AWAITING_PAYMENT)
    return inImt
      ? 'IMT has it; the service has a void or ACH reject and waits for IC to send the payment'
      : 'a void or ACH reject came; IC has not sent its payment';
  return inImt ? 'IMT has it; the service has not recorded the posting yet' : 'delivered; not posted yet';
}
