/**
 * IMT simulator: a real HTTP server on loopback that answers like IMT's partner API
 * (design §1) plus the assumed calls of contracts C1 (cycle listing), C2 (reversals)
 * and C3 (idempotency on `transaction_id`).
 *
 * Tests, `npm start` and the demo point the service at it instead of
 * billing(test).imtapps.com. Besides the partner routes it exposes `/_sim/...`
 * control routes (no auth, never faulted) to inspect postings, reversals, the ledger
 * and the request log, to switch failure modes and to add invoices.
 *
 * Error bodies mimic Django REST Framework (`{"field": ["reason"]}`, `{"detail": "…"}`),
 * which is what IMT's API answers with.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { FaultController, installFaults, registerControlRoutes, registerFaultRoutes } from '../faults';
import { billPdfStream, type ServedPdf } from './bill-pdf';
import { registerPaymentListing, registerPaymentSimRoutes, type ImtPaymentsAdmin } from './payments-listing';
import {
  addDays,
  centsToAmount,
  generateCycle,
  isFirstOfMonth,
  type CycleOptions,
  type ImtCustomerDetail,
  type ImtListedInvoice,
  type InvoiceCycle,
} from './dataset';

// ---------------------------------------------------------------------------
// Public types

export interface ImtSimulatorOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The `X-Integrator-ID` every partner call must carry. */
  integratorId: string;
  cycles?: CycleOptions[];
  /** Fastify request logging; off by default. Headers are redacted when on. */
  logger?: boolean;
  /** The biller's time zone, in which C4 reads `posted_from` / `posted_to` (default America/Chicago). */
  billerTimeZone?: string;
}

/** `GET /api/integration/invoice/<n>/detail`, shaped exactly like the design's example. */
export interface ImtInvoiceDetail {
  id: number;
  amount_due: string | null;
  past_due: string;
  invoice_number: string;
  total_amount: string;
  paid_amount: string;
  invoice_month: string;
  sent: boolean;
  status: string;
  due_date: string | null;
  created: string;
  updated: string;
  customer: string;
}

export type PaymentMethod = 'cash' | 'credit' | 'check' | 'echeck' | 'other';
export type ReversalType = 'void' | 'ach_reject';

export interface PostedPayment {
  id: number;
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  payment_method: PaymentMethod;
  message: string;
  source: string;
  posted_at: string;
}

export interface Reversal {
  id: number;
  transaction_id: string;
  reversal_type: ReversalType;
  return_code: string | null;
  amount: string;
  reversed_at: string;
  payment_id: number;
}

export interface LedgerEntry {
  at: string;
  invoice_number: string;
  transaction_id: string;
  kind: 'posting' | 'reversal';
  reversal_type?: ReversalType;
  return_code?: string | null;
  amount: string;
}

export interface ImtRequestLogEntry {
  method: string;
  /** The URL as requested (path and query). */
  path: string;
  /** 0 when no answer was sent (hang, reset, client gone). */
  status: number;
  at: string;
}

export interface ListPageRequest {
  invoice_month: string;
  page: number;
  page_size: number;
}

/** What a test may give `addInvoice`: any detail field, plus the listing-only fields. */
export type AddInvoiceInput = Partial<ImtInvoiceDetail> & {
  invoice_number: string;
  customer: string;
  amount_due: string;
  invoice_date?: string | null;
  customer_detail?: Partial<ImtCustomerDetail>;
};

export type FieldReasons = Record<string, string[]>;

export interface ImtSimulator {
  url: string;
  faults: FaultController;
  close(): Promise<void>;
  addInvoice(invoice: AddInvoiceInput): void;
  postings(): PostedPayment[];
  reversals(): Reversal[];
  ledger(invoiceNumber?: string): LedgerEntry[];
  requestLog(): ImtRequestLogEntry[];
  /** Make post-payment for this invoice answer 400 with these reasons until cleared. */
  rejectPostsFor(invoiceNumber: string, reasons: FieldReasons): void;
  clearRejections(): void;
  listPageRequests(): ListPageRequest[];
  /** Serve this invoice's bill PDF padded to at least `bytes` (large-bill tests); 0 = plain. */
  padBillPdf(invoiceNumber: string, bytes: number): void;
  /** Hash and size of every bill PDF served, newest last. */
  servedPdfs(): ServedPdf[];
  /** Contracts C4 listing and out-of-band payment changes (payments-listing.ts). */
  payments: ImtPaymentsAdmin;
  /** Back to the state right after start: no postings, reversals, added invoices, logs, rejections or faults. */
  reset(): void;
}

// ---------------------------------------------------------------------------
// Constants

const SIM_PREFIX = '/_sim';
const API = '/api/integration';
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
/** Keeps a long demo from growing the request log without bound. */
const MAX_REQUEST_LOG = 50_000;
const PAYMENT_METHODS: readonly PaymentMethod[] = ['cash', 'credit', 'check', 'echeck', 'other'];
const REVERSAL_TYPES: readonly ReversalType[] = ['void', 'ach_reject'];
/** NACHA return codes R01…R85. */
const RETURN_CODE = /^R(0[1-9]|[1-7]\d|8[0-5])$/;
const AUTH_FAILED = { detail: 'Authentication credentials were not provided or are invalid.' };
const NOT_FOUND = { detail: 'Not found.' };

// ---------------------------------------------------------------------------
// Amounts (integer cents, so balances never drift)

const DECIMAL = /^-?\d+(\.\d+)?$/;
const MAX_DIGITS = 10;

function amountToCents(amount: string): number {
  const negative = amount.startsWith('-');
  const [int, frac = ''] = amount.replace('-', '').split('.');
  const cents = Number(int) * 100 + Number(frac.padEnd(2, '0'));
  return negative ? -cents : cents;
}

/** DRF DecimalField(max_digits=10, decimal_places=2, min_value=0.01) messages. Amounts must be strings (contract). */
function amountProblem(value: unknown): string | null {
  if (typeof value !== 'string' || !DECIMAL.test(value)) return 'A valid number is required.';
  const [int, frac = ''] = value.replace('-', '').split('.');
  if (frac.length > 2) return 'Ensure that there are no more than 2 decimal places.';
  if (int.replace(/^0+/, '').length + frac.length > MAX_DIGITS) {
    return `Ensure that there are no more than ${MAX_DIGITS} digits in total.`;
  }
  if (amountToCents(value) < 1) return 'Ensure this value is greater than or equal to 0.01.';
  return null;
}

// ---------------------------------------------------------------------------
// Request body validation (DRF-style reasons)

type JsonObject = Record<string, unknown>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class BodyValidator {
  readonly reasons: FieldReasons = {};
  constructor(private readonly body: JsonObject) {}

  fail(field: string, reason: string): void {
    (this.reasons[field] ??= []).push(reason);
  }

  string(field: string, opts: { allowBlank: boolean }): string {
    const value = this.body[field];
    if (value === undefined) this.fail(field, 'This field is required.');
    else if (value === null) this.fail(field, 'This field may not be null.');
    else if (typeof value !== 'string') this.fail(field, 'Not a valid string.');
    else if (!opts.allowBlank && value.trim() === '') this.fail(field, 'This field may not be blank.');
    else return value;
    return '';
  }

  choice<T extends string>(field: string, choices: readonly T[]): T {
    const value = this.string(field, { allowBlank: false });
    if (value !== '' && !choices.includes(value as T)) this.fail(field, `"${value}" is not a valid choice.`);
    return value as T;
  }

  amount(field: string): string {
    const value = this.body[field];
    const problem =
      value === undefined
        ? 'This field is required.'
        : value === null
          ? 'This field may not be null.'
          : amountProblem(value);
    if (problem) {
      this.fail(field, problem);
      return '';
    }
    return centsToAmount(amountToCents(this.body[field] as string));
  }

  get ok(): boolean {
    return Object.keys(this.reasons).length === 0;
  }
}

interface PostPaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  payment_method: PaymentMethod;
  message: string;
  source: string;
}

function validatePostPayment(body: JsonObject): { value: PostPaymentRequest } | { reasons: FieldReasons } {
  const v = new BodyValidator(body);
  const value: PostPaymentRequest = {
    customer: v.string('customer', { allowBlank: false }),
    invoice_number: v.string('invoice_number', { allowBlank: false }),
    transaction_id: v.string('transaction_id', { allowBlank: false }),
    amount: v.amount('amount'),
    payment_method: v.choice('payment_method', PAYMENT_METHODS),
    message: v.string('message', { allowBlank: true }),
    source: v.string('source', { allowBlank: false }),
  };
  return v.ok ? { value } : { reasons: v.reasons };
}

interface ReversePaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  reversal_type: ReversalType;
  return_code: string | null;
  amount: string;
  message: string;
  source: string;
}

function validateReversePayment(
  body: JsonObject,
): { value: ReversePaymentRequest } | { reasons: FieldReasons } {
  const v = new BodyValidator(body);
  const reversalType = v.choice('reversal_type', REVERSAL_TYPES);
  const value: ReversePaymentRequest = {
    customer: v.string('customer', { allowBlank: false }),
    invoice_number: v.string('invoice_number', { allowBlank: false }),
    transaction_id: v.string('transaction_id', { allowBlank: false }),
    reversal_type: reversalType,
    return_code: validateReturnCode(v, reversalType, body.return_code),
    amount: v.amount('amount'),
    message: v.string('message', { allowBlank: true }),
    source: v.string('source', { allowBlank: false }),
  };
  return v.ok ? { value } : { reasons: v.reasons };
}

/** An ACH reject carries the bank's NACHA return code; a void has none. */
function validateReturnCode(v: BodyValidator, reversalType: ReversalType, value: unknown): string | null {
  if (reversalType === 'void') {
    if (value !== undefined && value !== null) v.fail('return_code', 'A void has no return code; send null.');
    return null;
  }
  if (reversalType !== 'ach_reject') return null;
  if (value === undefined || value === null || value === '') {
    v.fail('return_code', 'This field is required for an ach_reject.');
  } else if (typeof value !== 'string' || !RETURN_CODE.test(value)) {
    v.fail('return_code', `"${String(value)}" is not a valid NACHA return code (R01 to R85).`);
  } else {
    return value;
  }
  return null;
}

function sameRequest<T extends object>(a: T, b: T): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---------------------------------------------------------------------------
// State

interface StoredInvoice {
  listed: ImtListedInvoice;
  id: number;
  created: string;
  updated: string;
  /** Added through `addInvoice` (listed after the generated cycles of its month), not an override of a generated one. */
  added: boolean;
}

interface PaymentRecord {
  payment: PostedPayment;
  request: PostPaymentRequest;
  /** How much of the payment went to the past-due part, so a reversal restores it exactly. */
  pastDueCents: number;
}

interface ReversalRecord {
  reversal: Reversal;
  request: ReversePaymentRequest;
}

type Outcome<T> = { status: number; body: T | FieldReasons | { detail: string } };

/** IMT's side of the world: invoices (generated + added), payments, reversals, ledger. No HTTP in here. */
class ImtState {
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

  constructor(private readonly cycles: readonly InvoiceCycle[]) {}

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
  }

  /** A generated invoice is copied into the store the first time its balance changes. */
  private materialise(invoiceNumber: string): StoredInvoice {
    const inv = this.findInvoice(invoiceNumber);
    if (!inv) throw new Error(`invoice ${invoiceNumber} vanished`);
    this.store.set(invoiceNumber, inv);
    return inv;
  }

  private generatedInvoice(invoiceNumber: string): StoredInvoice | undefined {
    for (const [ordinal, cycle] of this.cycles.entries()) {
      const index = cycle.indexOf(invoiceNumber);
      if (index === null) continue;
      const listed = cycle.invoiceAt(index);
      const day = addDays(listed.invoice_month, 2);
      return {
        listed: { ...listed, customer_detail: { ...listed.customer_detail } },
        // Distinct id ranges per cycle keep ids unique without storing anything.
        id: (ordinal + 1) * 10_000_000 + index + 1,
        created: `${day}T16:41:40-05:00`,
        updated: `${day}T16:42:56-05:00`,
        added: false,
      };
    }
    return undefined;
  }

  private cyclesOf(invoiceMonth: string): InvoiceCycle[] {
    return this.cycles.filter((c) => c.invoiceMonth === invoiceMonth);
  }

  private addedOf(invoiceMonth: string): StoredInvoice[] {
    return [...this.store.values()].filter((s) => s.added && s.listed.invoice_month === invoiceMonth);
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

function toDetail(inv: StoredInvoice): ImtInvoiceDetail {
  const l = inv.listed;
  return {
    id: inv.id,
    amount_due: l.amount_due,
    past_due: l.past_due,
    invoice_number: l.invoice_number,
    total_amount: l.total_amount,
    paid_amount: l.paid_amount,
    invoice_month: l.invoice_month,
    sent: true,
    status: l.status,
    due_date: l.due_date,
    created: inv.created,
    updated: inv.updated,
    customer: l.customer,
  };
}

function assertAddInvoiceInput(input: AddInvoiceInput): void {
  for (const field of ['invoice_number', 'customer', 'amount_due'] as const) {
    if (typeof input[field] !== 'string' || input[field].trim() === '') {
      throw new TypeError(`addInvoice: ${field} must be a non-empty string`);
    }
  }
  if (!DECIMAL.test(input.amount_due))
    throw new TypeError(`addInvoice: amount_due "${input.amount_due}" is not a decimal`);
  if (input.invoice_month !== undefined && !isFirstOfMonth(input.invoice_month)) {
    throw new TypeError(`addInvoice: invoice_month must be YYYY-MM-01, got "${input.invoice_month}"`);
  }
}

function buildAddedInvoice(
  input: AddInvoiceInput,
  generated: StoredInvoice | undefined,
  nextId: number,
): StoredInvoice {
  const month = input.invoice_month ?? monthFromInvoiceNumber(input.invoice_number) ?? currentMonth();
  const amountDue = centsToAmount(amountToCents(input.amount_due));
  const now = imtTimestamp(new Date());
  const listed: ImtListedInvoice = {
    invoice_number: input.invoice_number,
    invoice_date: input.invoice_date !== undefined ? input.invoice_date : month,
    due_date: input.due_date !== undefined ? input.due_date : addDays(month, 50),
    amount_due: amountDue,
    past_due: input.past_due ?? '0.00',
    total_amount: input.total_amount ?? amountDue,
    paid_amount: input.paid_amount ?? '0.00',
    invoice_month: month,
    status: input.status ?? 'F',
    customer: input.customer,
    customer_detail: {
      ...defaultCustomerDetail(input.customer),
      ...generated?.listed.customer_detail,
      ...input.customer_detail,
    },
  };
  return {
    listed,
    id: input.id ?? generated?.id ?? 900_000_000 + nextId,
    created: input.created ?? generated?.created ?? now,
    updated: input.updated ?? now,
    added: generated === undefined,
  };
}

function defaultCustomerDetail(customer: string): ImtCustomerDetail {
  return {
    customer_id: customer,
    customer_name: `Customer ${customer}`,
    address: '',
    address2: '',
    city: '',
    state: '',
    zip: '',
    phone: '',
    email: '',
    registration_value: '',
  };
}

/** IMT invoice numbers end in the invoice month (`0406` + `20220901`). */
function monthFromInvoiceNumber(invoiceNumber: string): string | null {
  const m = /(\d{4})(\d{2})01$/.exec(invoiceNumber);
  if (!m) return null;
  const month = `${m[1]}-${m[2]}-01`;
  return isFirstOfMonth(month) ? month : null;
}

function currentMonth(): string {
  return `${new Date().toISOString().slice(0, 7)}-01`;
}

/** IMT answers timestamps in US Central with an offset, like `2022-10-03T16:41:40-05:00`. */
function imtTimestamp(date: Date): string {
  const shifted = new Date(date.getTime() - 5 * 3_600_000);
  return `${shifted.toISOString().slice(0, 19)}-05:00`;
}

// ---------------------------------------------------------------------------
// HTTP

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares digests so the time taken does not reveal how much of the id matched, nor its length. */
function secretMatches(given: string | string[] | undefined, expectedDigest: Buffer): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(sha256(given), expectedDigest);
}

function statusOf(err: unknown): number {
  if (isJsonObject(err) && typeof err.statusCode === 'number') return err.statusCode;
  return 500;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function installRequestLog(app: FastifyInstance, log: ImtRequestLogEntry[]): void {
  const entries = new WeakMap<FastifyRequest, ImtRequestLogEntry>();
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith(SIM_PREFIX)) return;
    const entry = { method: request.method, path: request.url, status: 0, at: new Date().toISOString() };
    entries.set(request, entry);
    log.push(entry);
    if (log.length > MAX_REQUEST_LOG) log.splice(0, log.length - MAX_REQUEST_LOG);
  });
  app.addHook('onResponse', async (request, reply) => {
    const entry = entries.get(request);
    if (entry) entry.status = reply.statusCode;
  });
}

function installAuth(app: FastifyInstance, integratorId: string): void {
  const expected = sha256(integratorId);
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(SIM_PREFIX)) return;
    if (!secretMatches(request.headers['x-integrator-id'], expected))
      return reply.code(403).send(AUTH_FAILED);
  });
}

function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(NOT_FOUND));
  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status < 500) return reply.code(status).send({ detail: messageOf(err) });
    request.log.error({ err }, 'IMT simulator error');
    return reply.code(500).send({ detail: 'A server error occurred.' });
  });
}

function registerInvoiceRoutes(app: FastifyInstance, state: ImtState): void {
  app.get<{ Params: { invoice_number: string } }>(
    `${API}/invoice/:invoice_number/detail`,
    async (request, reply) => {
      const detail = state.detail(request.params.invoice_number);
      return detail ? detail : reply.code(404).send(NOT_FOUND);
    },
  );

  app.get<{ Params: { invoice_number: string } }>(
    `${API}/invoice/:invoice_number/pdf`,
    async (request, reply) => {
      const detail = state.detail(request.params.invoice_number);
      if (!detail) return reply.code(404).send(NOT_FOUND);
      return reply
        .type('application/pdf')
        .header('Content-Disposition', `inline; filename="${detail.invoice_number}.pdf"`)
        .send(
          billPdfStream(detail, { padToBytes: state.pdfPadding.get(detail.invoice_number) }, (served) =>
            state.servedPdfs.push(served),
          ),
        );
    },
  );

  app.post(`${API}/invoice/post-payment`, async (request, reply) => {
    if (!isJsonObject(request.body)) return reply.code(400).send(notADictionary(request.body));
    const parsed = validatePostPayment(request.body);
    if ('reasons' in parsed) return reply.code(400).send(parsed.reasons);
    const outcome = state.postPayment(parsed.value);
    return reply.code(outcome.status).send(outcome.body);
  });

  app.post(`${API}/invoice/reverse-payment`, async (request, reply) => {
    if (!isJsonObject(request.body)) return reply.code(400).send(notADictionary(request.body));
    const parsed = validateReversePayment(request.body);
    if ('reasons' in parsed) return reply.code(400).send(parsed.reasons);
    const outcome = state.reversePayment(parsed.value);
    return reply.code(outcome.status).send(outcome.body);
  });
}

function notADictionary(body: unknown): FieldReasons {
  const got = Array.isArray(body) ? 'list' : body === null || body === undefined ? 'null' : typeof body;
  return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${got}.`] };
}

type ListQuery = { invoice_month?: string; page?: string; page_size?: string };

function parseListQuery(query: ListQuery): { value: ListPageRequest } | { status: number; body: object } {
  const month = query.invoice_month;
  if (month === undefined || month === '') {
    return { status: 400, body: { invoice_month: ['This field is required.'] } };
  }
  if (!isFirstOfMonth(month)) {
    return {
      status: 400,
      body: { invoice_month: ['Enter the first day of the billing month as YYYY-MM-01.'] },
    };
  }
  const pageSize = query.page_size === undefined ? DEFAULT_PAGE_SIZE : Number(query.page_size);
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    return { status: 400, body: { page_size: ['A valid integer of at least 1 is required.'] } };
  }
  if (pageSize > MAX_PAGE_SIZE) {
    return {
      status: 400,
      body: { page_size: [`Ensure this value is less than or equal to ${MAX_PAGE_SIZE}.`] },
    };
  }
  const page = query.page === undefined ? 1 : Number(query.page);
  // DRF's PageNumberPagination answers 404 "Invalid page." for anything but a page that exists.
  if (!Number.isInteger(page) || page < 1) return { status: 404, body: { detail: 'Invalid page.' } };
  return { value: { invoice_month: month, page, page_size: pageSize } };
}

function registerListRoute(app: FastifyInstance, state: ImtState, pageRequests: ListPageRequest[]): void {
  app.get<{ Querystring: ListQuery }>(`${API}/invoices`, async (request, reply) => {
    const parsed = parseListQuery(request.query);
    if ('status' in parsed) return reply.code(parsed.status).send(parsed.body);
    const q = parsed.value;
    pageRequests.push(q);
    const count = state.monthSize(q.invoice_month);
    const lastPage = Math.max(1, Math.ceil(count / q.page_size));
    if (q.page > lastPage) return reply.code(404).send({ detail: 'Invalid page.' });
    const pageUrl = (page: number): string =>
      `${request.protocol}://${request.host}${API}/invoices?` +
      new URLSearchParams({
        invoice_month: q.invoice_month,
        page: String(page),
        page_size: String(q.page_size),
      });
    return {
      count,
      next: q.page < lastPage ? pageUrl(q.page + 1) : null,
      previous: q.page > 1 ? pageUrl(q.page - 1) : null,
      results: state.listMonth(q.invoice_month, (q.page - 1) * q.page_size, q.page_size),
    };
  });
}

function registerSimRoutes(app: FastifyInstance, sim: ImtSimulator, faults: FaultController): void {
  app.get(`${SIM_PREFIX}/health`, async () => ({ status: 'ok' }));
  app.get(`${SIM_PREFIX}/postings`, async () => sim.postings());
  app.get(`${SIM_PREFIX}/reversals`, async () => sim.reversals());
  app.get<{ Querystring: { invoice_number?: string } }>(`${SIM_PREFIX}/ledger`, async (request) =>
    sim.ledger(request.query.invoice_number || undefined),
  );
  app.get(`${SIM_PREFIX}/requests`, async () => sim.requestLog());
  app.get(`${SIM_PREFIX}/list-requests`, async () => sim.listPageRequests());
  registerFaultRoutes(app, faults, SIM_PREFIX);
  app.post(`${SIM_PREFIX}/reset`, async () => {
    sim.reset();
    return { status: 'reset' };
  });
  app.post(`${SIM_PREFIX}/invoices`, async (request, reply) => {
    if (!isJsonObject(request.body)) return reply.code(400).send(notADictionary(request.body));
    try {
      sim.addInvoice(request.body as AddInvoiceInput);
    } catch (err) {
      return reply.code(400).send({ detail: messageOf(err) });
    }
    return reply.code(201).send({ status: 'added' });
  });
  app.post<{ Body: { invoice_number?: unknown; reasons?: unknown } }>(
    `${SIM_PREFIX}/reject-posts`,
    async (request, reply) => {
      const { invoice_number: invoiceNumber, reasons: rejectReasons } = request.body ?? {};
      if (typeof invoiceNumber !== 'string' || !isFieldReasons(rejectReasons)) {
        return reply
          .code(400)
          .send({ detail: 'Send {"invoice_number": "…", "reasons": {"field": ["reason"]}}.' });
      }
      sim.rejectPostsFor(invoiceNumber, rejectReasons);
      return { status: 'rejecting' };
    },
  );
  app.delete(`${SIM_PREFIX}/reject-posts`, async () => {
    sim.clearRejections();
    return { status: 'cleared' };
  });
}

function isFieldReasons(value: unknown): value is FieldReasons {
  return (
    isJsonObject(value) &&
    Object.values(value).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))
  );
}

function listenUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string')
    throw new Error('IMT simulator is not listening on TCP');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `http://${hostPart}:${address.port}`;
}

export async function startImtSimulator(opts: ImtSimulatorOptions): Promise<ImtSimulator> {
  if (!opts.integratorId) throw new TypeError('startImtSimulator: integratorId is required');
  const host = opts.host ?? '127.0.0.1';
  const app = Fastify({
    // Request logs never include headers by default; the redaction is a second guard for X-Integrator-ID.
    logger: opts.logger ? { level: 'info', redact: ['req.headers["x-integrator-id"]'] } : false,
    forceCloseConnections: true,
  });
  const faults = new FaultController();
  const state = new ImtState((opts.cycles ?? []).map(generateCycle));
  const requestLog: ImtRequestLogEntry[] = [];
  const pageRequests: ListPageRequest[] = [];

  // Order matters: log every request, then faults (they act before IMT's app), then auth.
  installRequestLog(app, requestLog);
  installFaults(app, faults, { exemptPrefix: SIM_PREFIX });
  installAuth(app, opts.integratorId);
  installErrorHandling(app);
  registerInvoiceRoutes(app, state);
  registerListRoute(app, state, pageRequests);
  const payments = registerPaymentListing(app, state, { billerTimeZone: opts.billerTimeZone });

  const sim: ImtSimulator = {
    url: '',
    faults,
    close: () => app.close(),
    addInvoice: (invoice) => void state.addInvoice(invoice),
    postings: () => state.postings(),
    reversals: () => state.reversals(),
    ledger: (invoiceNumber) => state.ledger(invoiceNumber).map((e) => ({ ...e })),
    requestLog: () => requestLog.map((e) => ({ ...e })),
    rejectPostsFor: (invoiceNumber, rejectReasons) => void state.rejections.set(invoiceNumber, rejectReasons),
    clearRejections: () => state.rejections.clear(),
    listPageRequests: () => pageRequests.map((p) => ({ ...p })),
    padBillPdf: (invoiceNumber, bytes) => void state.pdfPadding.set(invoiceNumber, bytes),
    servedPdfs: () => state.servedPdfs.map((p) => ({ ...p })),
    payments,
    reset: () => {
      state.reset();
      payments.reset();
      faults.clear();
      requestLog.length = 0;
      pageRequests.length = 0;
    },
  };
  registerControlRoutes(app, (scope) => {
    registerSimRoutes(scope, sim, faults);
    registerPaymentSimRoutes(scope, payments);
  });

  await app.listen({ port: opts.port ?? 0, host });
  sim.url = listenUrl(app, host);
  return sim;
}

export type { ImtCustomerDetail, ImtListedInvoice } from './dataset';
