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
 * - Amounts use the project's money rules (`domain/money.ts`): a decimal string with at
 *   most two decimals, no sign, symbol or thousands separator; written in `0.00` form.
 *   Nothing is rounded: `1.005` is rejected, not turned into `1.01` or `1.00`. A negative
 *   `amount_due` (a credit balance) is left out and reported as such: IC has nothing to
 *   collect, and a negative row would show payers a bill (docs/decisions.md). A zero amount is accepted. `past_due` empty → `0.00`, otherwise it
 *   follows the same rules (a wrong past-due figure must not reach payers either).
 * - Dates are IMT's `YYYY-MM-DD` (a trailing time part, as in an ISO timestamp, is
 *   ignored) checked against the calendar, written as `YYYY-MM-DD` or `MM/DD/YYYY`.
 * - `customer_id` is `customer_detail.customer_id`, else `customer`. When both are set and
 *   differ, the invoice is rejected: payments come back with that account number and one
 *   of the two would make IMT refuse them.
 * - A repeated `invoice_number` keeps the first row written and rejects later ones.
 *
 * Memory stays flat in the number of invoices: rows go through csv-stringify into the
 * file a batch at a time (a few hundred rows, one write each, waiting for 'drain'),
 * rejected invoices stream into a sibling JSON-lines report, and only counters, a 20-item
 * sample and the set of invoice numbers already written (needed for the duplicate rule, a
 * few dozen bytes each) are kept.
 *
 * Speed (issue 13): the work per invoice is synchronous — no promise, stream chunk or
 * generator step per row. Callers that have invoices a page at a time pass `pages`; each
 * batch is stringified with csv-stringify's sync API (the same options, the same bytes as
 * its stream API) and hashed and written as one buffer. Amounts are integer cents in plain
 * numbers (`domain/money.ts`); only the file total is a BigInt, topped up rarely.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { stringify, type Options as StringifyOptions } from 'csv-stringify/sync';
import type { ImtListedInvoice } from './imt-types';
import { BIF_COLUMNS, customerIdOf, mapInvoice, text, type BifColumn, type BifDateFormat } from './bif-row';

export {
  BIF_COLUMNS,
  mapInvoiceToRow,
  type BifColumn,
  type BifDateFormat,
  type BifMapOptions,
  type BifRowResult,
} from './bif-row';

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
  /** Invoices left out because `notBillable` gave a reason (also counted in `rejectedCount`). */
  notBillableCount: number;
  /** Invoices skipped because they are in `alreadySent`. */
  alreadySentCount: number;
}

interface BuildInvoiceFileCommon {
  filePath: string;
  dateFormat?: BifDateFormat;
  /** Called with the number of invoices read so far, every 1000 invoices and once at the end. */
  onProgress?: (processed: number) => void;
  /** Invoice numbers already in a file sent for the cycle: skipped, not reported (never sent twice). */
  alreadySent?: ReadonlySet<string>;
  /** Why an invoice must not be billed (a draft, not sent by IMT), or undefined: left out and reported. */
  notBillable?: (inv: ImtListedInvoice) => string | undefined;
}

/** The invoices one at a time (`invoices`) or a page at a time (`pages`, cheaper: one await per page). */
export type BuildInvoiceFileArgs = BuildInvoiceFileCommon &
  (
    | { invoices: AsyncIterable<ImtListedInvoice>; pages?: never }
    | { pages: AsyncIterable<readonly ImtListedInvoice[]>; invoices?: never }
  );

const SAMPLE_SIZE = 20;
const PROGRESS_EVERY = 1000;
/** Invoices mapped before their rows are stringified and written at once. */
const BATCH_ROWS = 500;
/** The running total stays a plain number below this, then moves into a BigInt (amounts are < 10^14 cents). */
const TOTAL_FLUSH_CENTS = 2 ** 52;

const STRINGIFY_OPTIONS: StringifyOptions = {
  delimiter: '|',
  record_delimiter: '\r\n',
  columns: [...BIF_COLUMNS],
  // No quoting at all (see the top of this file): values are already free of `|` and
  // line breaks, and quote characters must pass through untouched.
  quote: false,
  escape: '',
};
/** The file total: `0.00` form of a BigInt number of cents (a sum can pass 2^53). */
function formatTotal(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

function destroyed(out: WriteStream): Promise<void> {
  if (out.closed) return Promise.resolve();
  return new Promise((resolve) => {
    out.once('close', () => resolve());
    out.destroy();
  });
}

/** Writes `chunk`, waiting for 'drain' when the stream's buffer is full; fails once the stream has. */
async function writeOut(out: WriteStream, chunk: Buffer | string): Promise<void> {
  // After an error, write() returns false and 'drain' never comes: fail instead of waiting.
  if (out.errored) throw out.errored;
  if (!out.write(chunk)) await once(out, 'drain');
}

/**
 * Streams a billing cycle's invoices into the invoice file at `filePath` and the
 * rejected ones into `filePath + '.rejected.jsonl'`.
 *
 * Both are written under a `.partial` name and renamed when complete (the file is
 * flushed to disk first), so a crash or an error never leaves a truncated file under
 * the final name; on error the partial files are removed and the error is rethrown.
 */
// Long on purpose: `add` runs once per invoice and keeps the running counters in closure
// variables; splitting it into a class would add property loads to the hottest loop.
export async function buildInvoiceFile(args: BuildInvoiceFileArgs): Promise<BifBuildResult> {
  const { filePath, onProgress, alreadySent, notBillable } = args;
  const dateFormat = args.dateFormat ?? 'YYYY-MM-DD';
  const rejectedPath = `${filePath}.rejected.jsonl`;
  const partialFile = `${filePath}.partial`;
  const partialRejected = `${rejectedPath}.partial`;

  let processed = 0;
  let invoiceCount = 0;
  /** The total is `totalBig + totalCents`; see TOTAL_FLUSH_CENTS. */
  let totalCents = 0;
  let totalBig = 0n;
  let rejectedCount = 0;
  const rejectedSample: BifRejection[] = [];
  let sanitizedCount = 0;
  let notBillableCount = 0;
  let alreadySentCount = 0;
  const sanitizedSample: BifSanitizedRow[] = [];
  const written = new Set<string>();
  const hash = createHash('sha256');
  let bytes = 0;

  /** Rows and rejection lines of the batch not written yet. */
  let rows: string[][] = [];
  let rejectedLines = '';
  /** Invoices mapped since the last flush, written or rejected: the batch is bounded either way. */
  let pending = 0;
  let headerWritten = false;

  // Names, addresses and e-mails: readable by the service's user only.
  const fileOut = createWriteStream(partialFile, { flush: true, mode: 0o600 });
  const rejectedOut = createWriteStream(partialRejected, { flush: true, mode: 0o600 });
  // Errors surface through writeOut/`finished`; without a listener an early error event
  // would crash the process instead.
  fileOut.on('error', () => undefined);
  rejectedOut.on('error', () => undefined);

  const reject = (rejection: BifRejection): void => {
    rejectedCount += 1;
    if (rejectedSample.length < SAMPLE_SIZE) rejectedSample.push(rejection);
    rejectedLines += `${JSON.stringify(rejection)}\n`;
  };

  /** Maps one invoice into the current batch (synchronous: no await per invoice). */
  const add = (inv: ImtListedInvoice): void => {
    processed += 1;
    pending += 1;
    if (onProgress && processed % PROGRESS_EVERY === 0) onProgress(processed);
    if (alreadySent?.has(text(inv.invoice_number))) {
      alreadySentCount += 1;
      return;
    }
    const unbillable = notBillable?.(inv);
    if (unbillable) {
      notBillableCount += 1;
      reject({
        invoice_number: text(inv.invoice_number) || null,
        customer_id: customerIdOf(inv) || null,
        reasons: [unbillable],
      });
      return;
    }
    const mapped = mapInvoice(inv, dateFormat);
    if (!mapped.ok) {
      reject({
        invoice_number: text(inv.invoice_number) || null,
        customer_id: customerIdOf(inv) || null,
        reasons: mapped.reasons,
      });
      return;
    }
    const invoiceNumber = mapped.row[0];
    if (written.has(invoiceNumber)) {
      reject({
        invoice_number: invoiceNumber,
        customer_id: mapped.row[5],
        reasons: ['duplicate invoice_number'],
      });
      return;
    }
    written.add(invoiceNumber);
    invoiceCount += 1;
    totalCents += mapped.cents;
    if (totalCents >= TOTAL_FLUSH_CENTS) {
      totalBig += BigInt(totalCents);
      totalCents = 0;
    }
    if (mapped.sanitized.length > 0) {
      sanitizedCount += 1;
      if (sanitizedSample.length < SAMPLE_SIZE)
        sanitizedSample.push({ invoice_number: invoiceNumber, fields: mapped.sanitized });
    }
    rows.push(mapped.row);
  };

  /** Stringifies, hashes and writes the batch (the header with the first one). */
  const flush = async (): Promise<void> => {
    pending = 0;
    if (rows.length > 0 || !headerWritten) {
      const chunk = Buffer.from(stringify(rows, { ...STRINGIFY_OPTIONS, header: !headerWritten }), 'utf8');
      headerWritten = true;
      rows = [];
      hash.update(chunk);
      bytes += chunk.length;
      await writeOut(fileOut, chunk);
    }
    if (rejectedLines) {
      const lines = rejectedLines;
      rejectedLines = '';
      await writeOut(rejectedOut, lines);
    }
  };

  try {
    if (args.pages) {
      for await (const page of args.pages) {
        for (const inv of page) add(inv);
        if (pending >= BATCH_ROWS) await flush();
      }
    } else {
      for await (const inv of args.invoices) {
        add(inv);
        if (pending >= BATCH_ROWS) await flush();
      }
    }
    await flush();
    fileOut.end();
    rejectedOut.end();
    await Promise.all([finished(fileOut), finished(rejectedOut)]);
    await rename(partialFile, filePath);
    await rename(partialRejected, rejectedPath);
  } catch (err) {
    // Closed first: a stream still opening would otherwise create its file after the unlink.
    await Promise.all([destroyed(fileOut), destroyed(rejectedOut)]);
    await Promise.all([removeQuietly(partialFile), removeQuietly(partialRejected)]);
    throw err;
  }
  onProgress?.(processed);

  return {
    filePath,
    rejectedPath,
    invoiceCount,
    totalAmount: formatTotal(totalBig + BigInt(totalCents)),
    sha256: hash.digest('hex'),
    bytes,
    rejectedCount,
    rejectedSample,
    sanitizedCount,
    sanitizedSample,
    notBillableCount,
    alreadySentCount,
  };
}

/** Name under which a cycle's file is uploaded, e.g. `invoices_2022-09-01_3f2a9c0d1b7e.txt`. */
export function invoiceFileName(cycle: string, sha256: string): string {
  // Both parts end up in a path and in the SOAP FileName: keep them to safe characters.
  if (!/^[A-Za-z0-9._-]+$/.test(cycle)) throw new Error(`invalid billing cycle ${JSON.stringify(cycle)}`);
  if (!/^[0-9a-f]{12,}$/i.test(sha256)) throw new Error('sha256 must be a hex digest');
  return `invoices_${cycle}_${sha256.slice(0, 12).toLowerCase()}.txt`;
}
