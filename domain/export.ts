/**
 * Billing-cycle exports: a cycle's invoices → invoice file (BIF) → IC UploadInvoiceFile
 * (workflows/export-billing-cycle.ts, activities/export.ts, client/exports.ts).
 */
/** The one Schedule that exports every billing cycle (client/schedule.ts). */
export const EXPORT_SCHEDULE_ID = 'export-billing-cycles';
/**
 * Static summary of the Schedule's daily runs in the Temporal UI. A constant the data
 * converter always leaves readable (common/data-protection.ts): a schedule's action is encoded
 * again on every update, where no interceptor can mark it public.
 */
export const EXPORT_SCHEDULE_SUMMARY = "Daily export check of the previous month's billing cycle";

/** C1 allows at most 1000 invoices per page. */
export const EXPORT_MAX_PAGE_SIZE = 1000;
/**
 * 250 invoices ≈ 120 KB of JSON per page. Larger answers land in V8's large-object space
 * and survive until a full GC: measured on 100,000 invoices, 1000 per page grew the
 * worker by ~110 MB during the extraction, 250 per page by ~20 MB, at a similar speed.
 * The page count does not reach history (one activity reads them all).
 */
export const EXPORT_DEFAULT_PAGE_SIZE = 250;

// Same shape as ReconcileKind (domain/reconcile.ts) on purpose: each is its own `as const` vocabulary.
export const ExportStatus = {
  /** Paging through IMT's listing and writing the file. */
  EXTRACTING: 'EXTRACTING',
  /** The file is built; an operator must `approve` or `reject` it. */
  AWAITING_APPROVAL: 'AWAITING_APPROVAL',
  /** Sending the file to IC (retrying while IC is unreachable or failing). */
  UPLOADING: 'UPLOADING',
  /** IC refuses our BillerGUID / WebServiceKey: alerted once, retried slowly until fixed. */
  AUTH_REJECTED: 'AUTH_REJECTED',
  /**
   * IC loaded the file but reports another InvoiceCount than the file's rows: a person
   * checks IC and signals `approve` (accept the upload) or `reject` (fail the export).
   */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
  UPLOADED: 'UPLOADED',
  /**
   * No billable invoice and no file sent for the cycle yet (IMT has not created or finalised
   * it): nothing was uploaded and the cycle is not exported; a later run checks again.
   */
  EMPTY: 'EMPTY',
  /** Files were sent for the cycle before and no billable invoice is new since: nothing uploaded. */
  UP_TO_DATE: 'UP_TO_DATE',
  /** An operator rejected the file at the approval gate; nothing was sent. */
  REJECTED_BY_OPERATOR: 'REJECTED_BY_OPERATOR',
  /** IC answered Success=false: it refused the file. Not retried. */
  FILE_REJECTED: 'FILE_REJECTED',
  /** Extraction or upload failed for good (non-retryable error or retries exhausted). */
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
} as const;
export type ExportStatus = (typeof ExportStatus)[keyof typeof ExportStatus];

/** Failure types of the export besides `FailureType.FileRejected`. */
export const ExportFailureType = {
  /** An operator rejected the file at the approval gate. */
  ExportRejected: 'ExportRejected',
  /** The file built by the extraction is not on this worker's DATA_DIR (see docs). */
  ExportFileMissing: 'ExportFileMissing',
  /** The file on disk no longer has the sha256 it was built (and approved) with. */
  ExportFileChanged: 'ExportFileChanged',
  /** IMT's listing changed size while it was being paged: start the extraction over. */
  CycleListingChanged: 'CycleListingChanged',
  InvalidExportInput: 'InvalidExportInput',
  /** IC's InvoiceCount differed from the file and an operator failed the export. */
  IcInvoiceCountMismatch: 'IcInvoiceCountMismatch',
} as const;

export interface ExportWorkflowInput {
  /** `YYYY-MM-01`. */
  cycle: string;
  /** Stop after building the file until an operator signals `approve` or `reject`. */
  approvalRequired?: boolean;
  /** Send every billable invoice again, also those already in a file sent for the cycle. */
  force?: boolean;
  /** Invoices per listing call, 1–1000 (default 1000). */
  pageSize?: number;
  /** Who started it, e.g. `cli`, `schedule export-billing-cycles-2022-09-01T11:00:00Z`. */
  requestedBy?: string;
}

/** Arguments of the Schedule's action (`scheduledExportWorkflow`), which runs every day. */
export interface ScheduledExportInput {
  /** The cycle is the month of the scheduled time as read in this zone. */
  timeZone: string;
  /**
   * Added to that month. Default -1: a cycle's invoices appear in the first days of the next
   * month (contracts C1), so the daily check exports the month before the one it runs in.
   */
  cycleMonthOffset?: number;
  approvalRequired?: boolean;
  pageSize?: number;
  /** From this day of the month on, a cycle that is still EMPTY raises one alert. Default 10. */
  emptyAlertDay?: number;
}

export const DEFAULT_CYCLE_MONTH_OFFSET = -1;
export const DEFAULT_EMPTY_ALERT_DAY = 10;

export interface ScheduledExportOutcome {
  cycle: string;
  workflowId: string;
  /** false: `export-<cycle>` is running (e.g. awaiting approval); nothing was started. */
  started: boolean;
  scheduledTime: string;
  /** What the export run found: UPLOADED (first or follow-up file), EMPTY, UP_TO_DATE, FAILED… */
  exportStatus?: ExportStatus;
  /** The run's file, when one was sent. */
  fileName?: string;
  invoiceCount?: number;
  /** True when the cycle was still empty past `emptyAlertDay` and an alert was raised (once per cycle). */
  alerted?: boolean;
  reason?: string;
}

/** One invoice left out of the file, as listed in the rejected-rows report (JSON lines). */
export interface ExportRejection {
  invoice_number: string | null;
  customer_id: string | null;
  reasons: string[];
}

/** What the extraction returns: a reference to the file on the worker's disk, never its content. */
export interface ExportFileRef {
  filePath: string;
  fileName: string;
  sha256: string;
  bytes: number;
  /** Rows in the file. */
  invoiceCount: number;
  /** Sum of amount_due of the rows, `0.00` form. */
  totalAmount: string;
  rejectedCount: number;
  /** JSON lines, one `ExportRejection` per invoice left out. */
  rejectedPath: string;
  /** The first 20 rejections. */
  rejectedSample: ExportRejection[];
  /** Rows written after cleaning a field (line breaks, `|`, control characters). */
  sanitizedCount: number;
  /** IMT's `count` for the cycle and the number of listing pages read. */
  listedCount: number;
  pages: number;
  /** Drafts and invoices IMT has not sent: left out, listed with the reason in the rejected rows. */
  notBillableCount: number;
  /** Billable invoices skipped because a file sent earlier for the cycle has them. */
  alreadySentCount: number;
  /** Files sent for the cycle before this one (the cycle's ledger); > 0 makes this a follow-up file. */
  filesSentBefore: number;
}

export interface ExtractInvoicesInput {
  cycle: string;
  pageSize: number;
  /** Ignore the files sent before: every billable invoice goes again (`export start --force`). */
  resend: boolean;
}

export interface UploadInvoiceFileInput {
  filePath: string;
  fileName: string;
  /** Checked against the file before it is sent: what was built (and approved) is what goes. */
  sha256: string;
  /**
   * An export's file: recorded in the cycle's ledger of sent files once IC accepted it. Absent
   * for other files sent through this activity (balance refreshes re-send invoices already billed).
   */
  ledger?: { cycle: string; invoiceCount: number; totalAmount: string };
}

/** One file IC accepted for a cycle: a line of the cycle's ledger (`exports/<cycle>/sent/`). */
export interface SentFileRecord {
  cycle: string;
  fileName: string;
  filePath: string;
  sha256: string;
  invoiceCount: number;
  totalAmount: string;
  uploadedAt: string;
}

export interface UploadOutcome {
  /** IC's InvoiceCount for the file (also on a repeated upload IC deduplicated). */
  icInvoiceCount: number;
  uploadedAt: string;
}

/**
 * Heartbeat details of the extraction activity: the resume cursor, and the progress the
 * CLI shows (read from the pending activity by `describe`, so it costs no history events).
 */
export interface ExtractCursor {
  v: 1;
  phase: 'extracting' | 'done';
  pageSize: number;
  /** IMT's `count` at the first page; null until it is known. */
  totalCount: number | null;
  totalPages: number | null;
  /** Pages fetched and saved under the run's work directory. */
  pagesDone: number;
  /** Invoices handed to the file builder so far (written or rejected). */
  invoicesRead: number;
}

export interface ExportProgress {
  phase: ExportStatus;
  pagesDone: number;
  totalPages?: number;
  invoicesRead: number;
  totalCount?: number;
  /** Known once the file is built. */
  rowsWritten?: number;
  rejectedCount?: number;
  /** Attempt number of the running activity, when the client merged it in. */
  attempt?: number;
  /** Why the previous attempt of the running activity failed (e.g. IC unreachable). */
  lastFailure?: string;
}

export interface ExportDecision {
  decision: 'approved' | 'rejected';
  by?: string;
  reason?: string;
  at: string;
}

export interface ExportEvent {
  at: string;
  event: string;
  detail?: string;
}

export interface ExportSummary {
  cycle: string;
  status: ExportStatus;
  approvalRequired: boolean;
  force: boolean;
  pageSize: number;
  requestedBy?: string;
  startedAt: string;
  file?: ExportFileRef;
  upload?: UploadOutcome;
  decision?: ExportDecision;
  /** IC's InvoiceCount differed from the file's rows (status NEEDS_ATTENTION until decided). */
  countMismatch?: { icInvoiceCount: number; fileInvoiceCount: number; decision?: ExportDecision };
  lastError?: { type: string; message: string };
  events: ExportEvent[];
}

/**
 * A finished export run: the file's facts as the extraction reported them, plus what IC said.
 * `status` UPLOADED: the file was sent; EMPTY / UP_TO_DATE: nothing was sent (no upload fields).
 */
export interface ExportResult extends Pick<
  ExportFileRef,
  | 'fileName'
  | 'filePath'
  | 'sha256'
  | 'bytes'
  | 'invoiceCount'
  | 'totalAmount'
  | 'rejectedCount'
  | 'rejectedPath'
  | 'sanitizedCount'
  | 'notBillableCount'
  | 'alreadySentCount'
  | 'filesSentBefore'
> {
  cycle: string;
  status: typeof ExportStatus.UPLOADED | typeof ExportStatus.EMPTY | typeof ExportStatus.UP_TO_DATE;
  /** This file follows earlier ones of the cycle: it holds only invoices none of them had. */
  followUp: boolean;
  icInvoiceCount?: number;
  uploadedAt?: string;
  /** Set when IC counted another number of invoices and an operator accepted the upload. */
  countMismatch?: ExportSummary['countMismatch'];
}

export interface ApproveExportInput {
  by?: string;
  note?: string;
}

export interface RejectExportInput {
  reason: string;
  by?: string;
}

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Decisions (pure; table-tested in test/unit/export-decisions.test.ts)

/**
 * Why an invoice must not reach payers, or undefined when it is billable: contracts C1 bills
 * only `status` "F" (final) and `sent` true. A draft may still change; an invoice IMT has
 * not sent was not seen by its customer, so IC must not ask for it either.
 */
export function notBillableReason(status: unknown, sent: unknown): string | undefined {
  const s = typeof status === 'string' ? status.trim() : status;
  if (s !== 'F') return `not billable: status ${JSON.stringify(s ?? null)} is not final ("F")`;
  if (sent !== true)
    return `not billable: IMT has not sent it to the customer (sent ${JSON.stringify(sent ?? null)})`;
  return undefined;
}

/** What a run does once its file is built. */
export type ExportNextStep = 'upload' | 'empty' | 'up-to-date';

/**
 * A file without a row is never uploaded. With no file sent before, the cycle is EMPTY (not
 * exported: IMT has not created or finalised its invoices yet); with files sent before, it is
 * UP_TO_DATE (nothing late since). A file with rows goes, first or follow-up alike.
 */
export function nextStepAfterBuild(file: { invoiceCount: number; filesSentBefore: number }): ExportNextStep {
  if (file.invoiceCount > 0) return 'upload';
  return file.filesSentBefore > 0 ? 'up-to-date' : 'empty';
}

/**
 * The daily check alerts about a cycle still EMPTY once the day of the month reaches
 * `emptyAlertDay` (the alert's key makes it once per cycle). Earlier days are normal: IMT
 * creates a cycle's invoices in the first days of the next month.
 */
export function emptyCycleAlertDue(
  status: ExportStatus | undefined,
  dayOfMonth: number,
  emptyAlertDay: number,
): boolean {
  return status === ExportStatus.EMPTY && dayOfMonth >= emptyAlertDay;
}

/** The run's static summary in the Temporal UI (set at start by the CLI and the daily starter). */
export function exportStaticSummary(cycle: string, requestedBy: string | undefined, force: boolean): string {
  return `Export of billing cycle ${cycle}${force ? ' (force: every invoice again)' : ''}${requestedBy ? ` · by ${requestedBy}` : ''}`;
}

/** The run's current details in the Temporal UI (markdown): state, invoices, file, IC. */
export function exportDetails(summary: ExportSummary): string {
  const lines = [`**${summary.status}** · billing cycle ${summary.cycle}`];
  const f = summary.file;
  if (f) {
    lines.push(
      `${f.invoiceCount} invoices in ${f.fileName} totalling ${f.totalAmount}` +
        `${f.filesSentBefore > 0 ? ` (follow-up: ${f.filesSentBefore} file(s) sent before, ${f.alreadySentCount} invoices in them)` : ''}`,
      `${f.rejectedCount} left out (${f.notBillableCount} drafts or not sent) of ${f.listedCount} listed by IMT`,
    );
  }
  if (summary.upload)
    lines.push(`IC loaded ${summary.upload.icInvoiceCount} invoices at ${summary.upload.uploadedAt}`);
  if (summary.status === ExportStatus.EMPTY)
    lines.push('No billable invoice yet: nothing sent, the cycle is not exported.');
  if (summary.status === ExportStatus.UP_TO_DATE)
    lines.push('Nothing new since the files sent before: nothing sent.');
  if (summary.lastError) lines.push(`Last error: ${summary.lastError.type}: ${summary.lastError.message}`);
  return lines.join('\n\n');
}

/**
 * Why an operator's approve / reject is refused now (the export run's update validator):
 * only at the approval gate, or on IC's count mismatch, and only once.
 */
export function refuseExportDecision(
  cycle: string,
  status: ExportStatus,
  taken: { decision?: unknown; countDecision?: unknown },
): string | undefined {
  const open =
    (status === ExportStatus.NEEDS_ATTENTION && !taken.countDecision) ||
    (status === ExportStatus.AWAITING_APPROVAL && !taken.decision);
  return open ? undefined : `export of ${cycle} is ${status}: no decision is awaited`;
}
