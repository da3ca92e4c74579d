/**
 * Strict parser and validator of the invoice file (BIF) as contracts E defines it,
 * used by the IC simulator to accept or refuse an upload the way IC would.
 *
 * The column list is deliberately spelled out here again rather than imported from
 * the service's file builder: the simulator plays the other party, so it must check
 * the contract independently, or a mistake in the builder would be approved by itself.
 *
 * Every problem names the 1-based line and, where it applies, the field, because
 * that is what an operator needs to find the bad record in a 100,000-row file.
 */

/**
 * Contracts E's column list, written out here on purpose rather than imported from
 * integrations/bif.ts: the simulator plays IC, an independent reader of the file, so a
 * wrong column order in the builder fails the tests instead of being agreed with.
 */
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
export type BifRow = Record<BifColumn, string>;
export type BifDateFormat = 'YYYY-MM-DD' | 'MM/DD/YYYY';

export const BIF_REQUIRED_COLUMNS: readonly BifColumn[] = [
  'invoice_number',
  'invoice_date',
  'due_date',
  'amount_due',
  'customer_id',
  'customer_name',
];

export interface BifProblem {
  /** 1-based line number; 0 for problems with the file as a whole. */
  line: number;
  field?: BifColumn;
  message: string;
}

export type BifParseResult = { ok: true; rows: BifRow[] } | { ok: false; problems: BifProblem[] };

export interface BifParseOptions {
  dateFormat?: BifDateFormat;
  /** Stop collecting after this many problems (the file is refused either way). Default 20. */
  maxProblems?: number;
}

const AMOUNT = /^\d+\.\d{2}$/;
const DELIMITER = '|';
const LINE_END = '\r\n';

/** Parses and validates the whole file; any problem refuses the whole file (IC loads all or nothing). */
export function parseInvoiceFile(bytes: Uint8Array, options: BifParseOptions = {}): BifParseResult {
  const dateFormat = options.dateFormat ?? 'YYYY-MM-DD';
  const maxProblems = options.maxProblems ?? 20;
  const decoded = decodeUtf8(bytes);
  if (typeof decoded !== 'string') return { ok: false, problems: [decoded] };

  const lines = splitLines(decoded);
  if (lines.length === 0) {
    return { ok: false, problems: [{ line: 0, message: 'the file is empty; expected the header row' }] };
  }
  const problems: BifProblem[] = [];
  const headerProblem = checkHeader(lines[0]);
  if (headerProblem) return { ok: false, problems: [headerProblem] };

  const rows: BifRow[] = [];
  const seen = new Map<string, number>();
  const checkDate = memoizedDateCheck(dateFormat);
  for (let i = 1; i < lines.length && problems.length < maxProblems; i++) {
    const lineNo = i + 1;
    const row = parseRow(lines[i], lineNo, problems);
    if (!row) continue;
    const before = problems.length;
    checkRow(row, lineNo, dateFormat, checkDate, problems);
    checkDuplicate(row.invoice_number, lineNo, seen, problems);
    if (problems.length === before) rows.push(row);
  }
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, maxProblems) };
  return { ok: true, rows };
}

/** One human-readable message for IC's ErrorMessage. */
export function formatBifProblems(problems: readonly BifProblem[]): string {
  const describe = (p: BifProblem): string => {
    const where = p.line === 0 ? 'file' : `line ${p.line}`;
    return p.field ? `${where}, field ${p.field}: ${p.message}` : `${where}: ${p.message}`;
  };
  const head = problems.map(describe).join('; ');
  return problems.length === 1 ? head : `${problems.length} problems: ${head}`;
}

function decodeUtf8(bytes: Uint8Array): string | BifProblem {
  // ignoreBOM keeps a byte-order mark in the text, so it is reported instead of silently accepted.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { line: 0, message: 'the file is not valid UTF-8' };
  }
  if (text.startsWith('\uFEFF')) {
    return { line: 1, message: 'the file starts with a byte-order mark; send UTF-8 without a BOM' };
  }
  return text;
}

/** Lines end in CRLF; a final CRLF ends the file rather than starting an empty last line. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(LINE_END);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function checkLineBreaks(line: string, lineNo: number): BifProblem | null {
  if (line.includes('\n'))
    return { line: lineNo, message: 'bare LF inside the line; every line must end in CRLF' };
  if (line.includes('\r'))
    return { line: lineNo, message: 'bare CR inside the line; every line must end in CRLF' };
  return null;
}

function checkHeader(line: string): BifProblem | null {
  const lineBreak = checkLineBreaks(line, 1);
  if (lineBreak) return lineBreak;
  const names = line.split(DELIMITER);
  const expected = BIF_COLUMNS.join(DELIMITER);
  if (names.length !== BIF_COLUMNS.length) {
    return {
      line: 1,
      message: `the header has ${names.length} columns, expected ${BIF_COLUMNS.length}: ${expected}`,
    };
  }
  const wrong = BIF_COLUMNS.findIndex((name, i) => names[i] !== name);
  if (wrong === -1) return null;
  return {
    line: 1,
    message: `header column ${wrong + 1} is "${names[wrong]}", expected "${BIF_COLUMNS[wrong]}" (header must be ${expected})`,
  };
}

function parseRow(line: string, lineNo: number, problems: BifProblem[]): BifRow | null {
  const lineBreak = checkLineBreaks(line, lineNo);
  if (lineBreak) {
    problems.push(lineBreak);
    return null;
  }
  if (line === '') {
    problems.push({ line: lineNo, message: 'empty line inside the file' });
    return null;
  }
  // No quoting in this format: a `|` is always a delimiter.
  const fields = line.split(DELIMITER);
  if (fields.length !== BIF_COLUMNS.length) {
    problems.push({
      line: lineNo,
      message: `expected ${BIF_COLUMNS.length} fields separated by "|", found ${fields.length}`,
    });
    return null;
  }
  const row = {} as BifRow;
  BIF_COLUMNS.forEach((name, i) => (row[name] = fields[i]));
  return row;
}

/** A cycle's rows share a handful of dates, so each distinct value is checked once. */
function memoizedDateCheck(format: BifDateFormat): (value: string) => boolean {
  const known = new Map<string, boolean>();
  return (value) => {
    let valid = known.get(value);
    if (valid === undefined) {
      valid = isValidDate(value, format);
      known.set(value, valid);
    }
    return valid;
  };
}

function checkRow(
  row: BifRow,
  lineNo: number,
  dateFormat: BifDateFormat,
  isDate: (value: string) => boolean,
  problems: BifProblem[],
): void {
  for (const field of BIF_REQUIRED_COLUMNS) {
    if (row[field].trim() === '') problems.push({ line: lineNo, field, message: 'required value is empty' });
  }
  for (const field of ['amount_due', 'past_due_amount'] as const) {
    const value = row[field];
    if (value !== '' && !AMOUNT.test(value)) {
      problems.push({ line: lineNo, field, message: `"${value}" is not an amount in 0.00 form` });
    }
  }
  for (const field of ['invoice_date', 'due_date'] as const) {
    const value = row[field];
    if (value.trim() !== '' && !isDate(value)) {
      problems.push({ line: lineNo, field, message: `"${value}" is not a valid date in ${dateFormat} form` });
    }
  }
}

function checkDuplicate(
  invoiceNumber: string,
  lineNo: number,
  seen: Map<string, number>,
  problems: BifProblem[],
): void {
  if (invoiceNumber === '') return;
  const first = seen.get(invoiceNumber);
  if (first === undefined) {
    seen.set(invoiceNumber, lineNo);
    return;
  }
  problems.push({
    line: lineNo,
    field: 'invoice_number',
    message: `duplicate invoice number "${invoiceNumber}" (first on line ${first})`,
  });
}

export function isValidDate(value: string, format: BifDateFormat): boolean {
  const m =
    format === 'YYYY-MM-DD'
      ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
      : /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value);
  if (!m) return false;
  const [year, month, day] =
    format === 'YYYY-MM-DD' ? [m[1], m[2], m[3]].map(Number) : [m[3], m[1], m[2]].map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
