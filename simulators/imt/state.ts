/**
 * IMT simulator: IMT's side of the world (invoices generated and added, payments, reversals,
 * the ledger) and how a posting or a reversal changes it (contracts C2, C3). No HTTP in here.
 */
import type { ServedPdf } from './bill-pdf';
import { centsToAmount, cycleCreatedAt, type ImtListedInvoice, type InvoiceCycle } from './dataset';
import {
  buildAddedInvoice,
  generatedInvoice,
  imtTimestamp,
  toDetail,
  assertAddInvoiceInput,
  type StoredInvoice,
} from './invoices';
import type {
  AddInvoiceInput,
  FieldReasons,
  ImtInvoiceDetail,
  LedgerEntry,
  Outcome,
  PaymentBook,
  PaymentRecord,
  PdfBook,
  PostedPayment,
  PostPaymentRequest,
  Reversal,
  ReversalRecord,
  ReversePaymentRequest,
} from './types';
import { amountToCents } from './validation';

/** IMT's side of the world: invoices (generated + added), payments, reversals, ledger. No HTTP in here. */
export class ImtState implements PaymentBook, PdfBook {
  /** Invoices added by tests, and generated invoices once a payment changed them. */
  private readonly store = new Map<string, StoredInvoice>();
  /** Read and changed by the C4 listing and its out-of-band hooks (payments-listing.ts). */
  readonly payments = new Map<string, PaymentRecord>();
  readonly reversalsByTransaction = new Map<string, ReversalRecord>();
  private readonly ledgerEntries: LedgerEntry[] = [];
  readonly rejections = new Map<string, FieldReasons>();
  /** Bill PDFs to pad (large-bill tests) and what was served (bill-pdf.ts). */
  readonly pdfPadding = new Map<string, number>();
  readonly servedPdfs: ServedPdf[] = [];
  private nextPaymentId = 1;
  private nextReversalId = 1;
  private nextAddedInvoiceId = 1;

  /** IMT's "now": invoices created later are not in the listing yet (tests move it; null = the real clock). */
  private clock: Date | null = null;

  constructor(private readonly cycles: readonly InvoiceCycle[]) {}

  setClock(now: Date | null): void {
    this.clock = now;
  }

  now(): Date {
    return this.clock ?? new Date();
  }

  reset(): void {
    this.store.clear();
    this.payments.clear();
    this.reversalsByTransaction.clear();
    this.ledgerEntries.length = 0;
    this.rejections.clear();
    this.pdfPadding.clear();
    this.servedPdfs.length = 0;
    this.nextPaymentId = 1;
    this.nextReversalId = 1;
    this.nextAddedInvoiceId = 1;
    this.clock = null;
  }

  postings(): PostedPayment[] {
    return [...this.payments.values()].map((r) => ({ ...r.payment }));
  }

  reversals(): Reversal[] {
    return [...this.reversalsByTransaction.values()].map((r) => ({ ...r.reversal }));
  }

  ledger(invoiceNumber?: string): LedgerEntry[] {
    return this.ledgerEntries.filter(
      (e) => invoiceNumber === undefined || e.invoice_number === invoiceNumber,
    );
  }

  findInvoice(invoiceNumber: string): StoredInvoice | undefined {
    return this.store.get(invoiceNumber) ?? this.generatedInvoice(invoiceNumber);
  }

  detail(invoiceNumber: string): ImtInvoiceDetail | undefined {
    const inv = this.findInvoice(invoiceNumber);
    return inv && toDetail(inv);
  }

  addInvoice(input: AddInvoiceInput): ImtInvoiceDetail {
    assertAddInvoiceInput(input);
    const generated = this.generatedInvoice(input.invoice_number);
    const stored = buildAddedInvoice(input, generated, this.nextAddedInvoiceId);
    if (!generated) this.nextAddedInvoiceId++;
    this.store.set(input.invoice_number, stored);
    return toDetail(stored);
  }

  /** Generated cycles first, in the order given, then invoices added for that month. */
  monthSize(invoiceMonth: string): number {
    const generated = this.cyclesOf(invoiceMonth).reduce((sum, c) => sum + c.count, 0);
    return generated + this.addedOf(invoiceMonth).length;
  }

  listMonth(invoiceMonth: string, offset: number, limit: number): ImtListedInvoice[] {
    const out: ImtListedInvoice[] = [];
    let skip = offset;
    for (const cycle of this.cyclesOf(invoiceMonth)) {
      for (let i = skip; i < cycle.count && out.length < limit; i++) {
        const listed = cycle.invoiceAt(i);
        out.push(this.store.get(listed.invoice_number)?.listed ?? listed);
      }
      skip = Math.max(0, skip - cycle.count);
    }
    const added = this.addedOf(invoiceMonth);
    for (let i = skip; i < added.length && out.length < limit; i++) out.push(added[i].listed);
    return out;
  }

  postPayment(req: PostPaymentRequest): Outcome<PostedPayment> {
    const rejection = this.rejections.get(req.invoice_number);
    if (rejection) return { status: 400, body: rejection };
    const previous = this.payments.get(req.transaction_id);
    if (previous) {
      if (sameRequest(previous.request, req)) return { status: 200, body: previous.payment };
      return reasons(
        'transaction_id',
        `Transaction ${req.transaction_id} was already posted with different data.`,
      );
    }
    const invoice = this.findInvoice(req.invoice_number);
    if (!invoice) return reasons('invoice_number', `Invoice ${req.invoice_number} does not exist.`);
    if (invoice.listed.customer !== req.customer) {
      return reasons(
        'customer',
        `Invoice ${req.invoice_number} does not belong to customer ${req.customer}.`,
      );
    }
    const at = new Date().toISOString();
    const payment: PostedPayment = { id: this.nextPaymentId++, ...req, posted_at: at };
    const pastDueCents = this.applyPayment(req.invoice_number, amountToCents(req.amount));
    this.payments.set(req.transaction_id, { payment, request: req, pastDueCents });
    this.ledgerEntries.push({
      at,
      invoice_number: req.invoice_number,
      transaction_id: req.transaction_id,
      kind: 'posting',
      amount: req.amount,
    });
    return { status: 201, body: payment };
  }

  reversePayment(req: ReversePaymentRequest): Outcome<Reversal> {
    const record = this.payments.get(req.transaction_id);
    if (!record)
      return { status: 404, body: { detail: `No payment with transaction_id ${req.transaction_id}.` } };
    const previous = this.reversalsByTransaction.get(req.transaction_id);
    if (previous) return repeatedReversal(previous, req);
    const { payment } = record;
    if (payment.customer !== req.customer || payment.invoice_number !== req.invoice_number) {
      return reasons(
        'transaction_id',
        `Payment ${req.transaction_id} was posted to customer ${payment.customer}, invoice ${payment.invoice_number}.`,
      );
    }
    if (payment.amount !== req.amount) {
      return reasons(
        'amount',
        `Amount ${req.amount} does not match the posted payment amount ${payment.amount}.`,
      );
    }
    const at = new Date().toISOString();
    const reversal: Reversal = {
      id: this.nextReversalId++,
      transaction_id: req.transaction_id,
      reversal_type: req.reversal_type,
      return_code: req.return_code,
      amount: req.amount,
      reversed_at: at,
      payment_id: payment.id,
    };
    this.undoPayment(payment.invoice_number, amountToCents(payment.amount), record.pastDueCents);
    this.reversalsByTransaction.set(req.transaction_id, { reversal, request: req });
    this.ledgerEntries.push({
      at,
      invoice_number: payment.invoice_number,
      transaction_id: req.transaction_id,
      kind: 'reversal',
      reversal_type: req.reversal_type,
      return_code: req.return_code,
      amount: req.amount,
    });
    return { status: 201, body: reversal };
  }

  /** Reduces the balance; returns the part applied to past due (paid first, as the oldest debt). */
  private applyPayment(invoiceNumber: string, cents: number): number {
    const inv = this.materialise(invoiceNumber);
    const pastDue = amountToCents(inv.listed.past_due);
    const toPastDue = Math.min(Math.max(pastDue, 0), cents);
    this.changeBalance(inv, -cents, -toPastDue);
    return toPastDue;
  }

  private undoPayment(invoiceNumber: string, cents: number, pastDueCents: number): void {
    this.changeBalance(this.materialise(invoiceNumber), cents, pastDueCents);
  }

  private changeBalance(inv: StoredInvoice, deltaCents: number, pastDueDeltaCents: number): void {
    const listed = inv.listed;
    listed.amount_due = centsToAmount(amountToCents(listed.amount_due ?? '0') + deltaCents);
    listed.past_due = centsToAmount(amountToCents(listed.past_due) + pastDueDeltaCents);
    listed.paid_amount = centsToAmount(amountToCents(listed.paid_amount) - deltaCents);
    inv.updated = imtTimestamp(new Date());
    listed.updated = inv.updated;
  }

  /** A generated invoice is copied into the store the first time its balance changes. */
  private materialise(invoiceNumber: string): StoredInvoice {
    const inv = this.findInvoice(invoiceNumber);
    if (!inv) throw new Error(`invoice ${invoiceNumber} vanished`);
    this.store.set(invoiceNumber, inv);
    return inv;
  }

  private generatedInvoice(invoiceNumber: string): StoredInvoice | undefined {
    return generatedInvoice(this.cycles, invoiceNumber);
  }

  /** A generated cycle's invoices all appear at once, when IMT creates them (the 3rd of the next month). */
  private cyclesOf(invoiceMonth: string): InvoiceCycle[] {
    return this.cycles.filter(
      (c) => c.invoiceMonth === invoiceMonth && this.exists(cycleCreatedAt(invoiceMonth).created),
    );
  }

  private addedOf(invoiceMonth: string): StoredInvoice[] {
    return [...this.store.values()].filter(
      (s) => s.added && s.listed.invoice_month === invoiceMonth && this.exists(s.listed.created),
    );
  }

  private exists(created: string): boolean {
    const at = Date.parse(created);
    return Number.isNaN(at) || at <= this.now().getTime();
  }
}

function repeatedReversal(previous: ReversalRecord, req: ReversePaymentRequest): Outcome<Reversal> {
  const { reversal } = previous;
  if (reversal.reversal_type !== req.reversal_type) {
    return reasons(
      'transaction_id',
      `Payment ${req.transaction_id} is already reversed (${reversal.reversal_type}).`,
    );
  }
  if (sameRequest(previous.request, req)) return { status: 200, body: reversal };
  return reasons(
    'transaction_id',
    `Transaction ${req.transaction_id} was already reversed (${reversal.reversal_type}) with different data.`,
  );
}

function reasons(field: string, reason: string): { status: 400; body: FieldReasons } {
  return { status: 400, body: { [field]: [reason] } };
}

/** Field by field, whatever order the fields were recorded in (the API's or a direct entry's). */
function sameRequest<T extends object>(a: T, b: T): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const fields = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...fields].every((field) => x[field] === y[field]);
}
