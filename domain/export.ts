/**
 * Billing-cycle exports: a cycle's invoices → invoice file (BIF) → IC UploadInvoiceFile
 * (workflows/export-billing-cycle.ts, activities/export.ts, client/exports.ts).
 */
/** The one Schedule that exports every billing cycle (client/schedule.ts). */
export const EXPORT_SCHEDULE_ID = 'export-billing-cycles';

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
  /** Informational: this run was started over a finished one (client/exports.ts decides). */
  force?: boolean;
  /** Invoices per listing call, 1–1000 (default 1000). */
  pageSize?: number;
  /** Who started it, e.g. `cli`, `schedule export-billing-cycles-2022-09-01T11:00:00Z`. */
  requestedBy?: string;
}

/** Arguments of the Schedule's action (`scheduledExportWorkflow`). */
export interface ScheduledExportInput {
  /** The cycle is the month of the scheduled time as read in this zone. */
  timeZone: string;
  /** Added to that month: -1 exports the month before the one the schedule fires in. Default 0. */
  cycleMonthOffset?: number;
  approvalRequired?: boolean;
  pageSize?: number;
}

export interface ScheduledExportOutcome {
  cycle: string;
  workflowId: string;
  /** false: `export-<cycle>` already ran (or is running); nothing was started. */
  started: boolean;
  scheduledTime: string;
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
}

export interface ExtractInvoicesInput {
  cycle: string;
  pageSize: number;
}

export interface UploadInvoiceFileInput {
  filePath: string;
  fileName: string;
  /** Checked against the file before it is sent: what was built (and approved) is what goes. */
  sha256: string;
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

/** A finished export: the file's facts as the extraction reported them, plus what IC said. */
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
> {
  cycle: string;
  icInvoiceCount: number;
  uploadedAt: string;
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
