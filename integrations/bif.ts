/**
 * The invoice file ("BIF") sent to Invoice Cloud each billing cycle (integration-design §2,
 * contracts E). Pure: no network, no Temporal; only the local file system.
 *
 * Format decisions:
 * - UTF-8 without BOM (a BOM would become part of the first column name), `|` between
 *   fields, `\r\n` after every row including the last, first row = `BIF_COLUMNS`.
 * - The format has no quoting: IC splits each line on `|`. So csv-stringify is configured
 *   with `quote: false` and an empty `escape`, which means it never adds or doubles quote
 *   characters: a name like `Bob "Bobby" Smith` is written exactly as it is.
 * - Instead, every text value is sanitised before it reaches the stringifier: each run of
 *   line breaks (CR, LF, VT, FF, NEL, U+2028, U+2029) becomes one space, `|` becomes `/`,
 *   other C0 control characters and DEL are dropped (tab is kept), then the value is
 *   trimmed. A row whose value changed this way (beyond the trim) is written and
 *   reported as "sanitised" (a warning in the export report), naming the fields.
 * - Identifiers are not sanitised: an `invoice_number` or customer id containing `|`, a
 *   line break or a control character rejects the invoice, because IC echoes these
 *   values back on every payment and IMT would not recognise an altered one.
 * - Amounts use the project's money rules (`common/money.ts`): a decimal string with at
 *   most two decimals, no sign, symbol or thousands separator; written in `0.00` form.
 *   Nothing is rounded: `1.005` is rejected, not turned into `1.01` or `1.00`. A negative
 *   `amount_due` (a credit) is rejected: the biller requires payment in full and IC has
 *   nothing to collect. A zero amount is accepted. `past_due` empty → `0.00`, otherwise it
 *   follows the same rules (a wrong past-due figure must not reach payers either).
 * - Dates are IMT's `YYYY-MM-DD` (a trailing time part, as in an ISO timestamp, is
 *   ignored) checked against the calendar, written as `YYYY-MM-DD` or `MM/DD/YYYY`.
 * - `customer_id` is `customer_detail.customer_id`, else `customer`. When both are set and
 *   differ, the invoice is rejected: payments come back with that account number and one
 *   of the two would make IMT refuse them.
 * - A repeated `invoice_number` keeps the first row written and rejects later ones.
 *
 * Memory stays flat in the number of invoices: rows stream through csv-stringify into
 * the file (pipeline backpressure), rejected invoices stream into a sibling JSON-lines
 * report, and only counters, a 20-item sample and the set of invoice numbers already
 * written (needed for the duplicate rule, a few dozen bytes each) are kept.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { DECIMAL_AMOUNT } from '../common/money';
import type { ImtListedInvoice } from './imt-types';

/** Column names of the file, in file order. The one place this list exists. */
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

/** One line of the `.rejected.jsonl` report. */
export interface BifRejection {
  invoice_number: string | null;
  customer_id: string | null;
  reasons: string[];
}

/** A row that was written after some of its fields were cleaned. */
export interface BifSanitizedRow {
  invoice_number: string;
  fields: BifColumn[];
}

export interface BifBuildResult {
  filePath: string;
  /** JSON lines, one `BifRejection` per invoice left out; empty file when none. */
  rejectedPath: string;
  /** Rows in the file (header excluded). */
  invoiceCount: number;
  /** Sum of `amount_due` of the rows in the file, `0.00` form, computed in integer cents. */
  totalAmount: string;
  /** Hex SHA-256 of the file bytes. */
  sha256: string;
  bytes: number;
  rejectedCount: number;
  /** The first 20 rejections (all of them are in `rejectedPath`). */
  rejectedSample: BifRejection[];
  /** Rows written with at least one sanitised field. */
  sanitizedCount: number;
  /** The first 20 of those rows. */
  sanitizedSample: BifSanitizedRow[];
}

export interface BuildInvoiceFileArgs {
  invoices: AsyncIterable<ImtListedInvoice>;
  filePath: string;
  dateFormat?: BifDateFormat;
  /** Called with the number of invoices read so far, every 1000 invoices and once at the end. */
  onProgress?: (processed: number) => void;
}

const SAMPLE_SIZE = 20;
const PROGRESS_EVERY = 1000;
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

function sanitize(value: string): { value: string; changed: boolean } {
  if (!NEEDS_CLEANING.test(value)) return { value: value.trim(), changed: false };
  const cleaned = value.replace(LINE_BREAK_RUN, ' ').replace(/\|/g, '/').replace(OTHER_CONTROL, '');
  return { value: cleaned.trim(), changed: cleaned !== value };
}

function text(value: string | null | undefined): string {
  return (value ?? '').trim();
}

function quoted(value: string): string {
  const short = value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value;
  return `'${short}'`;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
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

/** Integer cents of a valid amount, or the reason it is not one. */
function parseAmount(field: string, value: string): { cents: bigint } | { reason: string } {
  if (/^-\s*\d/.test(value)) {
    // "-0" / "-0.00" is just zero written oddly.
    if (/^-\s*0*(\.0*)?$/.test(value)) return { cents: 0n };
    return { reason: `${field} ${quoted(value)} is negative` };
  }
  if (/^\d+\.\d{3,}$/.test(value)) return { reason: `${field} ${quoted(value)} has more than two decimals` };
  if (!DECIMAL_AMOUNT.test(value)) return { reason: `${field} ${quoted(value)} is not a decimal amount` };
  const [whole, frac = ''] = value.split('.');
  return { cents: BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0')) };
}

function formatCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** The customer id an invoice will be filed under, before validation. */
function customerIdOf(inv: ImtListedInvoice): string {
  return text(inv.customer_detail?.customer_id) || text(inv.customer);
}

type Mapped =
  { ok: true; row: string[]; sanitized: BifColumn[]; cents: bigint } | { ok: false; reasons: string[] };

function mapInvoice(inv: ImtListedInvoice, dateFormat: BifDateFormat): Mapped {
  const reasons: string[] = [];
  const sanitized: BifColumn[] = [];

  const identifier = (field: string, value: string): string => {
    if (!value) reasons.push(`${field} is missing`);
    else if (UNSAFE_IN_IDENTIFIER.test(value))
      reasons.push(`${field} ${quoted(value)} contains '|', a line break or a control character`);
    return value;
  };
  const date = (field: string, raw: string | null | undefined): string => {
    const value = text(raw);
    if (!value) {
      reasons.push(`${field} is missing`);
      return '';
    }
    const formatted = formatDate(value, dateFormat);
    if (formatted === undefined) reasons.push(`${field} ${quoted(value)} is not a valid date`);
    return formatted ?? '';
  };
  const free = (column: BifColumn, raw: string | null | undefined): string => {
    const s = sanitize(raw ?? '');
    if (s.changed) sanitized.push(column);
    return s.value;
  };

  const invoiceNumber = identifier('invoice_number', text(inv.invoice_number));
  const invoiceDate = date('invoice_date', inv.invoice_date);
  const dueDate = date('due_date', inv.due_date);

  let cents = 0n;
  const amountRaw = text(inv.amount_due);
  if (!amountRaw) reasons.push('amount_due is missing');
  else {
    const parsed = parseAmount('amount_due', amountRaw);
    if ('reason' in parsed) reasons.push(parsed.reason);
    else cents = parsed.cents;
  }

  let pastDueCents = 0n;
  const pastDueRaw = text(inv.past_due);
  if (pastDueRaw) {
    const parsed = parseAmount('past_due', pastDueRaw);
    if ('reason' in parsed) reasons.push(parsed.reason);
    else pastDueCents = parsed.cents;
  }

  const detail = inv.customer_detail;
  const detailId = text(detail?.customer_id);
  const invoiceCustomer = text(inv.customer);
  const customerId = identifier('customer_id', detailId || invoiceCustomer);
  if (detailId && invoiceCustomer && detailId !== invoiceCustomer) {
    reasons.push(
      `customer_detail.customer_id ${quoted(detailId)} does not match customer ${quoted(invoiceCustomer)}`,
    );
  }

  const customerName = free('customer_name', detail?.customer_name);
  if (!customerName) reasons.push('customer_name is missing');

  const row = [
    invoiceNumber,
    invoiceDate,
    dueDate,
    formatCents(cents),
    formatCents(pastDueCents),
    customerId,
    customerName,
    free('address', detail?.address),
    free('address2', detail?.address2),
    free('city', detail?.city),
    free('state', detail?.state),
    free('ZIP', detail?.zip),
    free('phone', detail?.phone),
    free('email', detail?.email),
    free('registration_value', detail?.registration_value),
  ];
  if (reasons.length > 0) return { ok: false, reasons };
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

/** Counts and hashes the bytes on their way to the file. */
class DigestCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/**
 * Streams a billing cycle's invoices into the invoice file at `filePath` and the
 * rejected ones into `filePath + '.rejected.jsonl'`.
 *
 * Both are written under a `.partial` name and renamed when complete (the file is
 * flushed to disk first), so a crash or an error never leaves a truncated file under
 * the final name; on error the partial files are removed and the error is rethrown.
 */
export async function buildInvoiceFile(args: BuildInvoiceFileArgs): Promise<BifBuildResult> {
  const { invoices, filePath, onProgress } = args;
  const dateFormat = args.dateFormat ?? 'YYYY-MM-DD';
  const rejectedPath = `${filePath}.rejected.jsonl`;
  const partialFile = `${filePath}.partial`;
  const partialRejected = `${rejectedPath}.partial`;

  let processed = 0;
  let invoiceCount = 0;
  let totalCents = 0n;
  let rejectedCount = 0;
  const rejectedSample: BifRejection[] = [];
  let sanitizedCount = 0;
  const sanitizedSample: BifSanitizedRow[] = [];
  const written = new Set<string>();

  const rejectedOut = createWriteStream(partialRejected, { flush: true });
  // Surfaces through `once(…, 'drain')`/`finished`; without a listener an early
  // error event would crash the process instead.
  rejectedOut.on('error', () => undefined);

  const reject = async (rejection: BifRejection): Promise<void> => {
    rejectedCount += 1;
    if (rejectedSample.length < SAMPLE_SIZE) rejectedSample.push(rejection);
    // After an error, write() returns false and 'drain' never comes: fail instead of waiting.
    if (rejectedOut.errored) throw rejectedOut.errored;
    if (!rejectedOut.write(`${JSON.stringify(rejection)}\n`)) await once(rejectedOut, 'drain');
  };

  async function* rows(): AsyncGenerator<string[]> {
    for await (const inv of invoices) {
      processed += 1;
      if (onProgress && processed % PROGRESS_EVERY === 0) onProgress(processed);
      const mapped = mapInvoice(inv, dateFormat);
      if (!mapped.ok) {
        await reject({
          invoice_number: text(inv.invoice_number) || null,
          customer_id: customerIdOf(inv) || null,
          reasons: mapped.reasons,
        });
        continue;
      }
      const invoiceNumber = mapped.row[0];
      if (written.has(invoiceNumber)) {
        await reject({
          invoice_number: invoiceNumber,
          customer_id: mapped.row[5],
          reasons: ['duplicate invoice_number'],
        });
        continue;
      }
      written.add(invoiceNumber);
      invoiceCount += 1;
      totalCents += mapped.cents;
      if (mapped.sanitized.length > 0) {
        sanitizedCount += 1;
        if (sanitizedSample.length < SAMPLE_SIZE)
          sanitizedSample.push({ invoice_number: invoiceNumber, fields: mapped.sanitized });
      }
      yield mapped.row;
    }
  }

  const digest = new DigestCounter();
  try {
    await pipeline(
      Readable.from(rows()),
      stringify({
        delimiter: '|',
        record_delimiter: '\r\n',
        header: true,
        columns: [...BIF_COLUMNS],
        // No quoting at all (see the top of this file): values are already free of
        // `|` and line breaks, and quote characters must pass through untouched.
        quote: false,
        escape: '',
      }),
      digest,
      createWriteStream(partialFile, { flush: true }),
    );
    rejectedOut.end();
    await finished(rejectedOut);
    await rename(partialFile, filePath);
    await rename(partialRejected, rejectedPath);
  } catch (err) {
    rejectedOut.destroy();
    await Promise.all([removeQuietly(partialFile), removeQuietly(partialRejected)]);
    throw err;
  }
  onProgress?.(processed);

  return {
    filePath,
    rejectedPath,
    invoiceCount,
    totalAmount: formatCents(totalCents),
    sha256: digest.hash.digest('hex'),
    bytes: digest.bytes,
    rejectedCount,
    rejectedSample,
    sanitizedCount,
    sanitizedSample,
  };
}

/** Name under which a cycle's file is uploaded, e.g. `invoices_2022-09-01_3f2a9c0d1b7e.txt`. */
export function invoiceFileName(cycle: string, sha256: string): string {
  // Both parts end up in a path and in the SOAP FileName: keep them to safe characters.
  if (!/^[A-Za-z0-9._-]+$/.test(cycle)) throw new Error(`invalid billing cycle ${JSON.stringify(cycle)}`);
  if (!/^[0-9a-f]{12,}$/i.test(sha256)) throw new Error('sha256 must be a hex digest');
  return `invoices_${cycle}_${sha256.slice(0, 12).toLowerCase()}.txt`;
}
