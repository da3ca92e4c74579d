/**
 * IMT simulator, contracts C4: `GET /api/integration/payments?source=&posted_from=&posted_to=&page=&page_size=`
 * — the payments (with their reversals) IMT holds from a source, by the day they were
 * posted in the biller's time zone, both dates inclusive, paged like C1 (1-based pages,
 * `page_size` ≤ 1000, a page past the end → 404).
 *
 * Also the hooks reconciliation tests need to make IMT differ from what the service did,
 * as happens in real life: a person posts an IC payment or a reversal directly in IMT,
 * or a payment is deleted or altered (`/_sim/payments/...`, and `sim.payments` in-process).
 * Those hooks change IMT's payment records only (not invoice balances nor the ledger).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isTimeZone, dateOfInstant, formatInZone, isCalendarDate } from '../../domain';
import { DEFAULT_PAGE_SIZE, INVALID_PAGE, lastPageOf, MAX_PAGE_SIZE, pageAnswer } from './paging';
import {
  PAYMENT_METHODS,
  REVERSAL_TYPES,
  type PaymentBook,
  type PaymentMethod,
  type PaymentRecord,
  type PostedPayment,
  type Reversal,
  type ReversalType,
} from './types';

const API_PATH = '/api/integration/payments';
const SIM_PATH = '/_sim/payments';
export const DEFAULT_BILLER_TIME_ZONE = 'America/Chicago';
/** Ids of payments and reversals entered "by a person", apart from the API's own sequences. */
const DIRECT_ID_BASE = 800_000_000;

// ---------------------------------------------------------------------------
// C4 shapes

export interface ListedReversal {
  id: number;
  reversal_type: ReversalType;
  return_code: string | null;
  amount: string;
  reversed_at: string;
}

export interface ListedPayment {
  id: number;
  transaction_id: string;
  customer: string;
  invoice_number: string;
  amount: string;
  payment_method: PaymentMethod;
  posted_at: string;
  reversals: ListedReversal[];
}

export interface PaymentListRequest {
  source: string;
  posted_from: string;
  posted_to: string;
  page: number;
  page_size: number;
  /** Contracts C4 (amended): narrows the result to that one transaction. */
  transaction_id?: string;
}

const calendarDate = z
  .string({ message: 'This field is required.' })
  .refine(isCalendarDate, 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.');

/** DRF-style reasons per field; `page` problems answer 404 "Invalid page." like PageNumberPagination. */
const ListQuerySchema = z
  .object({
    source: z.string({ message: 'This field is required.' }).min(1, 'This field may not be blank.'),
    posted_from: calendarDate,
    posted_to: calendarDate,
    page_size: z.coerce
      .number({ message: 'A valid integer is required.' })
      .int('A valid integer is required.')
      .min(1, 'Ensure this value is greater than or equal to 1.')
      .max(MAX_PAGE_SIZE, `Ensure this value is less than or equal to ${MAX_PAGE_SIZE}.`)
      .default(DEFAULT_PAGE_SIZE),
    page: z.coerce.number().int().min(1).default(1),
    transaction_id: z.string().min(1, 'This field may not be blank.').optional(),
  })
  .refine((q) => q.posted_from <= q.posted_to, {
    path: ['posted_to'],
    message: 'posted_to must not be before posted_from.',
  });

// ---------------------------------------------------------------------------
// Out-of-band changes (what a person or a past defect did directly in IMT)

const amountText = z
  .string()
  .regex(/^\d{1,8}(\.\d{1,2})?$/, 'a decimal amount like "50.00"')
  .transform((a) => {
    const [whole, frac = ''] = a.split('.');
    return `${Number(whole)}.${frac.padEnd(2, '0')}`;
  });
const instantText = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 date-time');

export const DirectPaymentSchema = z
  .object({
    transaction_id: z.string().min(1),
    customer: z.string().min(1),
    invoice_number: z.string().min(1),
    amount: amountText,
    payment_method: z.enum(PAYMENT_METHODS).default('echeck'),
    source: z.string().min(1).default('invoice_cloud'),
    message: z.string().default(''),
    /** Default: now. */
    posted_at: instantText.optional(),
  })
  .strict();
export type DirectPaymentInput = z.input<typeof DirectPaymentSchema>;

export const DirectReversalSchema = z
  .object({
    transaction_id: z.string().min(1),
    reversal_type: z.enum(REVERSAL_TYPES).default('void'),
    return_code: z.string().nullable().default(null),
    /** Default: the payment's amount. */
    amount: amountText.optional(),
    reversed_at: instantText.optional(),
  })
  .strict();
export type DirectReversalInput = z.input<typeof DirectReversalSchema>;

export const PaymentAlterationSchema = z
  .object({
    amount: amountText.optional(),
    invoice_number: z.string().min(1).optional(),
    customer: z.string().min(1).optional(),
    posted_at: instantText.optional(),
  })
  .strict();
export type PaymentAlteration = z.input<typeof PaymentAlterationSchema>;

/** `sim.payments`: C4's view and the out-of-band hooks. Every method throws a TypeError on bad input. */
export interface ImtPaymentsAdmin {
  /** A person enters an IC payment directly in IMT (the service never delivered it). */
  postDirectly(input: DirectPaymentInput): PostedPayment;
  /** A person reverses a payment directly in IMT. */
  reverseDirectly(input: DirectReversalInput): Reversal;
  /** Changes a payment's recorded fields in place. */
  alter(transactionId: string, change: PaymentAlteration): PostedPayment;
  /** Removes a payment (and its reversal) from IMT. */
  remove(transactionId: string): void;
  /** Removes a payment's reversal, leaving the payment posted. */
  removeReversal(transactionId: string): void;
  /** What C4 lists for these dates (all pages). */
  list(args: { postedFrom: string; postedTo: string; source?: string }): ListedPayment[];
  /** C4 page requests received, in order. */
  listRequests(): PaymentListRequest[];
  billerTimeZone(): string;
  setBillerTimeZone(timeZone: string): void;
  /** Forgets the list requests (the records themselves are ImtState's, reset there). */
  reset(): void;
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new TypeError(
    `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
  );
}

// ---------------------------------------------------------------------------

export function registerPaymentListing(
  app: FastifyInstance,
  book: PaymentBook,
  opts: { billerTimeZone?: string } = {},
): ImtPaymentsAdmin {
  const listing = new PaymentListing(book, opts.billerTimeZone ?? DEFAULT_BILLER_TIME_ZONE);
  app.get(API_PATH, async (request, reply) => {
    const parsed = ListQuerySchema.safeParse(request.query ?? {});
    if (!parsed.success) {
      if (parsed.error.issues.some((i) => i.path[0] === 'page')) return reply.code(404).send(INVALID_PAGE);
      const reasons: Record<string, string[]> = {};
      for (const issue of parsed.error.issues) (reasons[String(issue.path[0])] ??= []).push(issue.message);
      return reply.code(400).send(reasons);
    }
    const q = parsed.data;
    listing.requests.push({ ...q });
    const { count, results } = listing.page(q);
    if (q.page > lastPageOf(count, q.page_size)) return reply.code(404).send(INVALID_PAGE);
    const { source, posted_from, posted_to, transaction_id } = q;
    const filters = { source, posted_from, posted_to, ...(transaction_id ? { transaction_id } : {}) };
    return pageAnswer(request, API_PATH, filters, { ...q, count, results });
  });
  return listing;
}

type DayRange = { source: string; posted_from: string; posted_to: string };

/** C4's view of the book, in the biller's zone, and the out-of-band hooks that change the book. */
class PaymentListing implements ImtPaymentsAdmin {
  readonly requests: PaymentListRequest[] = [];
  // The biller-zone day of each payment, computed once per payment object and zone.
  private postedDay = new WeakMap<PostedPayment, string>();
  private nextDirectId = DIRECT_ID_BASE;

  constructor(
    private readonly book: PaymentBook,
    private timeZone: string,
  ) {
    if (!isTimeZone(timeZone)) throw new TypeError(`billerTimeZone: unknown time zone ${timeZone}`);
  }

  /** One page, in the order IMT recorded the payments (stable while nothing changes). */
  page(q: PaymentListRequest): { count: number; results: ListedPayment[] } {
    const from = (q.page - 1) * q.page_size;
    const results: ListedPayment[] = [];
    let count = 0;
    const only = q.transaction_id === undefined ? undefined : this.book.payments.get(q.transaction_id);
    const records = q.transaction_id === undefined ? this.book.payments.values() : only ? [only] : [];
    for (const record of records) {
      if (!this.matches(record.payment, q)) continue;
      if (count >= from && results.length < q.page_size) results.push(this.toListed(record));
      count++;
    }
    return { count, results };
  }

  postDirectly(input: DirectPaymentInput): PostedPayment {
    const d = parse(DirectPaymentSchema, input, 'postDirectly');
    if (this.book.payments.has(d.transaction_id))
      throw new TypeError(`IMT already has a payment with transaction_id ${d.transaction_id}`);
    const request = {
      customer: d.customer,
      invoice_number: d.invoice_number,
      transaction_id: d.transaction_id,
      amount: d.amount,
      payment_method: d.payment_method,
      message: d.message,
      source: d.source,
    };
    const payment: PostedPayment = {
      id: this.nextDirectId++,
      ...request,
      posted_at: d.posted_at ?? new Date().toISOString(),
    };
    this.book.payments.set(d.transaction_id, { payment, request, pastDueCents: 0 });
    return { ...payment };
  }

  reverseDirectly(input: DirectReversalInput): Reversal {
    const d = parse(DirectReversalSchema, input, 'reverseDirectly');
    const { payment } = this.existing(d.transaction_id);
    if (this.book.reversalsByTransaction.has(d.transaction_id))
      throw new TypeError(`payment ${d.transaction_id} is already reversed in IMT`);
    const amount = d.amount ?? payment.amount;
    const reversal: Reversal = {
      id: this.nextDirectId++,
      transaction_id: d.transaction_id,
      reversal_type: d.reversal_type,
      return_code: d.return_code,
      amount,
      reversed_at: d.reversed_at ?? new Date().toISOString(),
      payment_id: payment.id,
    };
    this.book.reversalsByTransaction.set(d.transaction_id, {
      reversal,
      request: {
        customer: payment.customer,
        invoice_number: payment.invoice_number,
        transaction_id: d.transaction_id,
        reversal_type: d.reversal_type,
        return_code: d.return_code,
        amount,
        message: 'entered directly in IMT',
        source: payment.source,
      },
    });
    return { ...reversal };
  }

  alter(transactionId: string, change: PaymentAlteration): PostedPayment {
    const c = parse(PaymentAlterationSchema, change, 'alter');
    const record = this.existing(transactionId);
    // A new object, so the cached posted day of the old one no longer applies.
    record.payment = {
      ...record.payment,
      ...(c.amount !== undefined ? { amount: c.amount } : {}),
      ...(c.invoice_number !== undefined ? { invoice_number: c.invoice_number } : {}),
      ...(c.customer !== undefined ? { customer: c.customer } : {}),
      ...(c.posted_at !== undefined ? { posted_at: c.posted_at } : {}),
    };
    return { ...record.payment };
  }

  remove(transactionId: string): void {
    this.existing(transactionId);
    this.book.payments.delete(transactionId);
    this.book.reversalsByTransaction.delete(transactionId);
  }

  removeReversal(transactionId: string): void {
    this.existing(transactionId);
    if (!this.book.reversalsByTransaction.delete(transactionId))
      throw new TypeError(`payment ${transactionId} has no reversal in IMT`);
  }

  list({
    postedFrom,
    postedTo,
    source = 'invoice_cloud',
  }: {
    postedFrom: string;
    postedTo: string;
    source?: string;
  }): ListedPayment[] {
    const q = { source, posted_from: postedFrom, posted_to: postedTo };
    return [...this.book.payments.values()]
      .filter((r) => this.matches(r.payment, q))
      .map((r) => this.toListed(r));
  }

  listRequests(): PaymentListRequest[] {
    return this.requests.map((r) => ({ ...r }));
  }

  billerTimeZone(): string {
    return this.timeZone;
  }

  setBillerTimeZone(zone: string): void {
    if (!isTimeZone(zone)) throw new TypeError(`setBillerTimeZone: unknown time zone ${zone}`);
    this.timeZone = zone;
    this.postedDay = new WeakMap();
  }

  reset(): void {
    this.requests.length = 0;
    this.nextDirectId = DIRECT_ID_BASE;
  }

  private dayOf(p: PostedPayment): string {
    let day = this.postedDay.get(p);
    if (day === undefined) {
      day = dateOfInstant(new Date(p.posted_at), this.timeZone);
      this.postedDay.set(p, day);
    }
    return day;
  }

  private matches(p: PostedPayment, q: DayRange): boolean {
    if (p.source !== q.source) return false;
    const day = this.dayOf(p);
    return day >= q.posted_from && day <= q.posted_to;
  }

  private toListed(record: PaymentRecord): ListedPayment {
    const p = record.payment;
    const r = this.book.reversalsByTransaction.get(p.transaction_id)?.reversal;
    return {
      id: p.id,
      transaction_id: p.transaction_id,
      customer: p.customer,
      invoice_number: p.invoice_number,
      amount: p.amount,
      payment_method: p.payment_method,
      posted_at: formatInZone(new Date(p.posted_at), this.timeZone),
      reversals: r
        ? [
            {
              id: r.id,
              reversal_type: r.reversal_type,
              return_code: r.return_code,
              amount: r.amount,
              reversed_at: formatInZone(new Date(r.reversed_at), this.timeZone),
            },
          ]
        : [],
    };
  }

  private existing(transactionId: string): PaymentRecord {
    const record = this.book.payments.get(transactionId);
    if (!record) throw new TypeError(`IMT has no payment with transaction_id ${transactionId}`);
    return record;
  }
}

/** `/_sim/payments/...`: the same hooks over HTTP (for the demo and outside tests). */
export function registerPaymentSimRoutes(scope: FastifyInstance, admin: ImtPaymentsAdmin): void {
  const run = async <T>(reply: { code(n: number): { send(b: unknown): unknown } }, fn: () => T) => {
    try {
      return fn();
    } catch (err) {
      return reply.code(400).send({ detail: err instanceof Error ? err.message : String(err) });
    }
  };
  type TxParams = { Params: { transaction_id: string } };
  scope.post(`${SIM_PATH}/direct`, async (request, reply) =>
    run(reply, () => reply.code(201).send(admin.postDirectly(request.body as DirectPaymentInput))),
  );
  scope.post(`${SIM_PATH}/direct-reversal`, async (request, reply) =>
    run(reply, () => reply.code(201).send(admin.reverseDirectly(request.body as DirectReversalInput))),
  );
  scope.patch<TxParams>(`${SIM_PATH}/:transaction_id`, async (request, reply) =>
    run(reply, () => admin.alter(request.params.transaction_id, request.body as PaymentAlteration)),
  );
  scope.delete<TxParams>(`${SIM_PATH}/:transaction_id`, async (request, reply) =>
    run(reply, () => {
      admin.remove(request.params.transaction_id);
      return { status: 'deleted' };
    }),
  );
  scope.delete<TxParams>(`${SIM_PATH}/:transaction_id/reversal`, async (request, reply) =>
    run(reply, () => {
      admin.removeReversal(request.params.transaction_id);
      return { status: 'deleted' };
    }),
  );
  scope.get(`${SIM_PATH}/list-requests`, async () => admin.listRequests());
  scope.put<{ Body: { time_zone?: unknown } }>(`${SIM_PATH}/time-zone`, async (request, reply) =>
    run(reply, () => {
      admin.setBillerTimeZone(String(request.body?.time_zone ?? ''));
      return { time_zone: admin.billerTimeZone() };
    }),
  );
}
