/**
 * Invoice Cloud simulator: what IC holds — the uploads it was sent and the invoices it shows —
 * and how an upload is checked (contracts E, `bif-parser.ts`) and loaded: all-or-nothing, a
 * repeated file (same name and content) a no-op success. No HTTP or SOAP in here.
 */
import { createHash } from 'node:crypto';
import { formatBifProblems, parseInvoiceFile, type BifDateFormat, type BifRow } from './bif-parser';
import type { IcFaultController } from './ic-faults';
import type { Fields } from './soap';

export interface IcUpload {
  fileName: string;
  sha256: string;
  bytes: number;
  invoiceCount: number;
  success: boolean;
  errorMessage?: string;
  /** Same file name and content as an earlier successful upload: answered Success, nothing loaded. */
  duplicate: boolean;
  at: string;
}

export interface IcInvoice {
  invoiceNumber: string;
  balanceDue: string;
  pastDue: string;
  accountNumber: string;
  customerName: string;
  /** FileName of the upload that last loaded this invoice. */
  loadedFrom: string;
}

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Copies a string into fresh memory. V8 may keep a field split out of the decoded file as a
 * slice of the whole file text; storing slices would keep every uploaded file alive.
 */
function detached(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface UploadResult {
  success: boolean;
  errorMessage: string;
  invoiceCount: number;
}

export class IcState {
  private readonly uploadLog: IcUpload[] = [];
  /** FileName → sha256 and row count of the successful upload that loaded it. */
  private readonly loadedFiles = new Map<string, { sha256: string; invoiceCount: number }>();
  private readonly shown = new Map<string, IcInvoice>();
  /** Loaded but not yet shown (IC's asynchronous load, `loadDelayMs`): the newest per invoice. */
  private readonly pending = new Map<string, { invoice: IcInvoice; visibleAt: number }>();
  forcedRejection: string | null = null;

  constructor(
    private readonly dateFormat: BifDateFormat,
    private readonly faults: IcFaultController,
  ) {}

  /** What IC shows now: pending loads whose time has come are applied first. */
  get invoices(): Map<string, IcInvoice> {
    const now = Date.now();
    for (const [n, p] of this.pending) {
      if (p.visibleAt <= now) {
        this.shown.set(n, p.invoice);
        this.pending.delete(n);
      }
    }
    return this.shown;
  }

  uploads(): IcUpload[] {
    return this.uploadLog.map((u) => ({ ...u }));
  }

  reset(): void {
    this.uploadLog.length = 0;
    this.loadedFiles.clear();
    this.shown.clear();
    this.pending.clear();
    this.forcedRejection = null;
  }

  upload(fileName: string, base64: string): UploadResult {
    const compact = base64.replace(/\s+/g, '');
    const bytes = BASE64.test(compact) && compact.length % 4 === 0 ? Buffer.from(compact, 'base64') : null;
    const record = (result: UploadResult, sha = '', duplicate = false): UploadResult => {
      this.uploadLog.push({
        fileName,
        sha256: sha,
        bytes: bytes?.length ?? 0,
        invoiceCount: result.invoiceCount,
        success: result.success,
        ...(result.errorMessage ? { errorMessage: result.errorMessage } : {}),
        duplicate,
        at: new Date().toISOString(),
      });
      return result;
    };
    if (this.forcedRejection !== null) return record(failure(this.forcedRejection));
    const nameProblem = fileNameProblem(fileName);
    if (nameProblem) return record(failure(nameProblem));
    if (!bytes) return record(failure('FileContent is not valid base64.'));
    const sha = sha256Hex(bytes);
    const previous = this.loadedFiles.get(fileName);
    if (previous && previous.sha256 === sha) return record(success(previous.invoiceCount), sha, true);
    if (previous)
      return record(failure(`FileName ${fileName} was already loaded with different content.`), sha);
    const parsed = parseInvoiceFile(bytes, { dateFormat: this.dateFormat });
    if (!parsed.ok)
      return record(failure(`Invoice file refused: ${formatBifProblems(parsed.problems)}`), sha);
    this.load(fileName, parsed.rows);
    this.loadedFiles.set(fileName, { sha256: sha, invoiceCount: parsed.rows.length });
    return record(success(parsed.rows.length + this.faults.get().invoiceCountDelta), sha);
  }

  view(invoiceNumber: string): Fields {
    const invoice = this.invoices.get(invoiceNumber);
    if (!invoice) {
      return {
        Success: false,
        BalanceDue: '',
        PastDue: '',
        ErrorMessage: `Invoice ${invoiceNumber} not found.`,
      };
    }
    return { Success: true, BalanceDue: invoice.balanceDue, PastDue: invoice.pastDue, ErrorMessage: '' };
  }

  /** A later file may carry an invoice again (e.g. a changed balance): the newest load wins. */
  private load(fileName: string, rows: readonly BifRow[]): void {
    const delay = this.faults.get().loadDelayMs;
    const visibleAt = delay === null ? Infinity : Date.now() + delay;
    for (const row of rows) {
      const invoice: IcInvoice = {
        invoiceNumber: detached(row.invoice_number),
        balanceDue: detached(row.amount_due),
        pastDue: row.past_due_amount === '' ? '0.00' : detached(row.past_due_amount),
        accountNumber: detached(row.customer_id),
        customerName: detached(row.customer_name),
        loadedFrom: fileName,
      };
      if (visibleAt <= Date.now()) {
        this.pending.delete(invoice.invoiceNumber);
        this.shown.set(invoice.invoiceNumber, invoice);
      } else this.pending.set(invoice.invoiceNumber, { invoice, visibleAt });
    }
  }
}

function fileNameProblem(fileName: string): string | null {
  if (fileName === '') return 'FileName is required.';
  if (/[\\/]/.test(fileName)) return `FileName ${fileName} must not contain a path.`;
  if (!fileName.endsWith('.txt')) return `FileName ${fileName} must end in .txt.`;
  return null;
}

function success(invoiceCount: number): UploadResult {
  return { success: true, errorMessage: '', invoiceCount };
}

function failure(errorMessage: string): UploadResult {
  return { success: false, errorMessage, invoiceCount: 0 };
}
