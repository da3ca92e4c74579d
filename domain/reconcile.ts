/**
 * Daily reconciliation (issue 12, contracts C4): the vocabulary shared by the workflow,
 * the activity, the schedule, the CLI and the tests. Types only, plus a few constants.
 */

/** One workflow per biller day: `reconcile-2022-10-03` (the scheduled, once-per-date run). */
export const reconcileWorkflowId = (date: string): string => `reconcile-${date}`;
/** A fresh run asked for by an operator: never takes the scheduled run's ID. */
export const manualReconcileWorkflowId = (date: string, stamp: string): string =>
  `reconcile-${date}-manual-${stamp}`;

/** The Schedule that reconciles the previous day, every day (client/reconcile-schedule.ts). */
export const RECONCILE_SCHEDULE_ID = 'reconcile-daily';

/** C4 page size: its maximum (a page of payments is small, ~400 bytes per payment). */
export const RECONCILE_DEFAULT_PAGE_SIZE = 1000;

// Same shape as ExportStatus (domain/export.ts) on purpose: each is its own `as const` vocabulary.
/**
 * How a transaction differs between what IC delivered to this service and what IMT holds.
 * `IN_FLIGHT` is listed in the report but is not a difference (yet).
 */
export const ReconcileKind = {
  /** IMT holds an IC payment this service never received. */
  IN_IMT_NOT_DELIVERED: 'IN_IMT_NOT_DELIVERED',
  /** IMT holds a payment this service received but did not post (dismissed, voided before posting…). */
  IN_IMT_NOT_POSTED_BY_US: 'IN_IMT_NOT_POSTED_BY_US',
  /** This service posted it (IMT confirmed) but IMT does not list it for that day. */
  POSTED_NOT_IN_IMT: 'POSTED_NOT_IN_IMT',
  /** Both have it, with another amount or invoice (or reversal amount). */
  AMOUNT_OR_INVOICE_DIFFERS: 'AMOUNT_OR_INVOICE_DIFFERS',
  /** This service reversed it (void / ACH reject) but IMT shows no reversal. */
  REVERSED_NOT_IN_IMT: 'REVERSED_NOT_IN_IMT',
  /** IMT shows a reversal this service never made. */
  REVERSED_IN_IMT_ONLY: 'REVERSED_IN_IMT_ONLY',
  /** A payment or reversal run of this service is still running: not a difference yet. */
  IN_FLIGHT: 'IN_FLIGHT',
} as const;
export type ReconcileKind = (typeof ReconcileKind)[keyof typeof ReconcileKind];

export const DIFFERENCE_KINDS: readonly ReconcileKind[] = [
  ReconcileKind.IN_IMT_NOT_DELIVERED,
  ReconcileKind.IN_IMT_NOT_POSTED_BY_US,
  ReconcileKind.POSTED_NOT_IN_IMT,
  ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS,
  ReconcileKind.REVERSED_NOT_IN_IMT,
  ReconcileKind.REVERSED_IN_IMT_ONLY,
];

/** One report row (a CSV line): amounts in integer cents, `null` where a side has nothing. */
export interface ReconcileRow {
  kind: ReconcileKind;
  transaction_id: string;
  customer: string;
  service_invoice_number: string | null;
  imt_invoice_number: string | null;
  service_amount_cents: number | null;
  imt_amount_cents: number | null;
  /** The service's PaymentStatus (or the run's status) for the row's subject. */
  service_status: string | null;
  /** IMT's state: `POSTED`, or the reversal (`void`, `ach_reject R01`). */
  imt_status: string | null;
  detail: string;
}

export interface ReconcileTotals {
  /** Payments IC delivered (service) / IMT holds from IC (IMT). */
  deliveredCents: number;
  postedCents: number;
  reversedCents: number;
  /** posted − reversed. */
  netCents: number;
}

export interface ReconcileInput {
  /** The biller day, `YYYY-MM-DD`. */
  date: string;
  /** The biller's IANA time zone (BILLER_TIME_ZONE). */
  timeZone: string;
  /** C4 page size, 1–1000. */
  pageSize?: number;
  /** Who asked: `schedule reconcile-daily-…`, `cli`. */
  requestedBy?: string;
}

/** What the activity is given: the workflow adds where it runs and what to name the report. */
export interface ReconcileDayInput extends ReconcileInput {
  pageSize: number;
  /** Only this deployment's transaction runs (the payments pool's queue) are the service's side. */
  paymentsTaskQueue: string;
  /** The report's file name (without `.csv`): the reconciliation's workflow ID. */
  reportName: string;
}

/** The workflow's result and the UI's details: counts and totals only, never the data. */
export interface ReconcileSummary {
  date: string;
  timeZone: string;
  workflowId: string;
  /** The CSV report under DATA_DIR (on the worker that ran it). */
  reportPath: string;
  /** Transactions of the day on either side. */
  transactions: number;
  /** Same on both sides. */
  matched: number;
  differences: number;
  inFlight: number;
  byKind: Partial<Record<ReconcileKind, number>>;
  service: ReconcileTotals;
  imt: ReconcileTotals;
  /** C4 pages read and service runs listed. */
  imtPages: number;
  serviceRunsListed: number;
  /** The first rows of the report (differences first), for the UI and a quick look. */
  sample: ReconcileRow[];
  startedAt: string;
  finishedAt: string;
  requestedBy?: string;
}

/** Heartbeat details of the reconciliation activity (progress; read with `describe`). */
export interface ReconcileProgress {
  /** `comparing`: both sides, sorted by transaction ID, merged (and the one-sided ones looked up). */
  phase: 'listing-service' | 'listing-imt' | 'comparing' | 'writing';
  serviceRunsListed: number;
  imtPages: number;
  imtCount: number | null;
}

/** Arguments of the Schedule's action (`scheduledReconcileWorkflow`). */
export interface ScheduledReconcileInput {
  timeZone: string;
  /** Added to the firing's date: -1 (default) reconciles the day before. */
  dayOffset?: number;
  pageSize?: number;
}

export interface ScheduledReconcileOutcome {
  date: string;
  workflowId: string;
  /** false: `reconcile-<date>` already ran (or is running); nothing was started. */
  started: boolean;
  scheduledTime: string;
  reason?: string;
}

export const ReconcileFailureType = {
  InvalidReconcileInput: 'InvalidReconcileInput',
  /** IMT's C4 listing changed while it was paged: read it again from page 1. */
  PaymentListingChanged: 'PaymentListingChanged',
} as const;
