/**
 * One row of the invoice file (contracts E): the columns, and how an IMT invoice becomes a
 * row or is rejected with its reasons. The rules (sanitising free text, identifiers that
 * must stay exact, amounts, dates, customer_id) are described at the top of bif.ts, which
 * writes the rows.
 */
import { DECIMAL_AMOUNT, fromCents, toCents } from '../domain';
import type { ImtListedInvoice } from './imt-types';

/** Column names of the file, in file order: the one list the service uses. */
// simulators/ic/bif-parser.ts repeats it on purpose (it plays IC, an independent reader): change both with contracts E.
export const BIF_COLUMNS = [
  'invoice_number',
  'invoice_date',
  'due_date',
  'amount_due',
  'past_due_amount',
  'customer_id',
  'customer_name',
  'address',
  'address2',
  'city',
  'state',
  'ZIP',
  'phone',
  'email',
  'registration_value',
] as const;
export type BifColumn = (typeof BIF_COLUMNS)[number];

export type BifDateFormat = 'YYYY-MM-DD' | 'MM/DD/YYYY';

export interface BifMapOptions {
  /** Default `YYYY-MM-DD`. */
  dateFormat?: BifDateFormat;
}

export type BifRowResult =
  { ok: true; row: string[]; sanitized: BifColumn[] } | { ok: false; reasons: string[] };

/** Longest excerpt of a bad value quoted in a reason (keeps the report readable). */
const MAX_QUOTED = 40;

const LINE_BREAK_RUN = /[\r\n\v\f\u0085\u2028\u2029]+/g;
// Matching control characters is the point of this pattern.
// eslint-disable-next-line no-control-regex
const OTHER_CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_IDENTIFIER = /[|\u0000-\u001f\u007f\u0085\u2028\u2029]/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$/;

/** Anything `sanitize` would change: one test instead of three replaces for clean values (nearly all). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const NEEDS_CLEANING = /[\u0000-\u001f\u007f\u0085\u2028\u2029|]/;

/** The cleaned value of a free-text field; `column` goes into `sanitized` when cleaning changed it. */
function free(column: BifColumn, raw: string | null | undefined, sanitized: BifColumn[]): string {
  if (!raw) return '';
  if (!NEEDS_CLEANING.test(raw)) return raw.trim();
  const cleaned = raw.replace(LINE_BREAK_RUN, ' ').replace(/\|/g, '/').replace(OTHER_CONTROL, '');
  if (cleaned !== raw) sanitized.push(column);
  return cleaned.trim();
}

export function text(value: string | null | undefined): string {
  return (value ?? '').trim();
}

function quoted(value: string): string {
  const short = value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value;
  return `'${short}'`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1];
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** Returns the date in the requested format, or undefined when `value` is not a real date. */
function formatDate(value: string, format: BifDateFormat): string | undefined {
  const m = ISO_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return format === 'MM/DD/YYYY' ? `${mo}/${d}/${y}` : `${y}-${mo}-${d}`;
}

/** Integer cents of a valid amount, or -1 after pushing the reason it is not one. */
function parseAmount(field: string, value: string, reasons: string[]): number {
  // Nearly every amount is valid: one test, then integer arithmetic on the string.
  if (DECIMAL_AMOUNT.test(value)) return toCents(value);
  if (/^-\s*\d/.test(value)) {
    // "-0" / "-0.00" is just zero written oddly.
    if (/^-\s*0*(\.0*)?$/.test(value)) return 0;
    // A credit balance: left out on purpose (docs/decisions.md, "Exports: credit balances").
    reasons.push(
      field === 'amount_due'
        ? `amount_due ${quoted(value)} is a credit balance: IC has nothing to collect`
        : `${field} ${quoted(value)} is negative`,
    );
  } else if (/^\d+\.\d{3,}$/.test(value)) {
    reasons.push(`${field} ${quoted(value)} has more than two decimals`);
  } else {
    reasons.push(`${field} ${quoted(value)} is not a decimal amount`);
  }
  return -1;
}

/** The customer id an invoice will be filed under, before validation. */
export function customerIdOf(inv: ImtListedInvoice): string {
  return text(inv.customer_detail?.customer_id) || text(inv.customer);
}

export type Mapped =
  { ok: true; row: string[]; sanitized: BifColumn[]; cents: number } | { ok: false; reasons: string[] };

/** An identifier, written unchanged or not at all. */
function identifier(field: string, value: string, reasons: string[]): string {
  if (!value) reasons.push(`${field} is missing`);
  else if (UNSAFE_IN_IDENTIFIER.test(value))
    reasons.push(`${field} ${quoted(value)} contains '|', a line break or a control character`);
  return value;
}

/**
 * Dates written lately, by format and IMT value: a cycle's invoices share a handful of invoice
 * and due dates, so nearly every date is a lookup instead of a regex, three Number() calls and a
 * new string. Bounded: cleared when it passes DATE_CACHE_SIZE entries.
 */
const dateCache = new Map<string, string | undefined>();
const DATE_CACHE_SIZE = 256;

function cachedDate(value: string, format: BifDateFormat): string | undefined {
  const key = format === 'YYYY-MM-DD' ? value : `/${value}`;
  let formatted = dateCache.get(key);
  if (formatted === undefined && !dateCache.has(key)) {
    formatted = formatDate(value, format);
    if (dateCache.size >= DATE_CACHE_SIZE) dateCache.clear();
    dateCache.set(key, formatted);
  }
  return formatted;
}

function date(
  field: string,
  raw: string | null | undefined,
  dateFormat: BifDateFormat,
  reasons: string[],
): string {
  const value = text(raw);
  if (!value) {
    reasons.push(`${field} is missing`);
    return '';
  }
  const formatted = cachedDate(value, dateFormat);
  if (formatted === undefined) reasons.push(`${field} ${quoted(value)} is not a valid date`);
  return formatted ?? '';
}

// Plain functions above, not closures: one invoice costs no function allocations.
export function mapInvoice(inv: ImtListedInvoice, dateFormat: BifDateFormat): Mapped {
  const reasons: string[] = [];
  const sanitized: BifColumn[] = [];

  const invoiceNumber = identifier('invoice_number', text(inv.invoice_number), reasons);
  const invoiceDate = date('invoice_date', inv.invoice_date, dateFormat, reasons);
  const dueDate = date('due_date', inv.due_date, dateFormat, reasons);

  let cents = 0;
  const amountRaw = text(inv.amount_due);
  if (!amountRaw) reasons.push('amount_due is missing');
  else cents = parseAmount('amount_due', amountRaw, reasons);

  let pastDueCents = 0;
  const pastDueRaw = text(inv.past_due);
  if (pastDueRaw) pastDueCents = parseAmount('past_due', pastDueRaw, reasons);

  const detail = inv.customer_detail;
  const detailId = text(detail?.customer_id);
  const invoiceCustomer = text(inv.customer);
  const customerId = identifier('customer_id', detailId || invoiceCustomer, reasons);
  if (detailId && invoiceCustomer && detailId !== invoiceCustomer) {
    reasons.push(
      `customer_detail.customer_id ${quoted(detailId)} does not match customer ${quoted(invoiceCustomer)}`,
    );
  }

  const customerName = free('customer_name', detail?.customer_name, sanitized);
  if (!customerName) reasons.push('customer_name is missing');
  if (reasons.length > 0) return { ok: false, reasons };

  const row = [
    invoiceNumber,
    invoiceDate,
    dueDate,
    fromCents(cents),
    fromCents(pastDueCents),
    customerId,
    customerName,
    free('address', detail?.address, sanitized),
    free('address2', detail?.address2, sanitized),
    free('city', detail?.city, sanitized),
    free('state', detail?.state, sanitized),
    free('ZIP', detail?.zip, sanitized),
    free('phone', detail?.phone, sanitized),
    free('email', detail?.email, sanitized),
    free('registration_value', detail?.registration_value, sanitized),
  ];
  return { ok: true, row, sanitized, cents };
}

/**
 * Maps one IMT invoice to a file row (values in `BIF_COLUMNS` order), or gives every
 * reason it cannot be filed. `sanitized` names the columns that were cleaned.
 */
export function mapInvoiceToRow(inv: ImtListedInvoice, opts: BifMapOptions = {}): BifRowResult {
  const mapped = mapInvoice(inv, opts.dateFormat ?? 'YYYY-MM-DD');
  return mapped.ok ? { ok: true, row: mapped.row, sanitized: mapped.sanitized } : mapped;
}
