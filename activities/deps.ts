/**
 * What activities are given by the process that runs them (app/ wires it): HTTP clients
 * carrying credentials, the data directory, the logger, metrics. Passed to
 * `createActivities(deps)` (activities/index.ts), never as workflow or activity arguments,
 * so secrets never land in history.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from '../common/logger';
import type { ImtClient } from '../integrations/imt-client';
import type { InvoiceCloudClient } from '../integrations/ic-client';
import type { CallObserver } from '../integrations/http';
import type { ReconcileKind } from '../domain';

/** The two stages of an export: IMT's listing → invoice file; file → IC. */
export type ExportStage = 'build' | 'upload';
/** Jobs a Schedule runs, whose last success is a metric (activities/metric-catalogue.ts). */
export type ScheduledJob = 'export' | 'reconcile';

export interface ActivityMetrics {
  paymentsPosted: { inc(): void };
  /** IMT refused a posting for good: the payment parks in NEEDS_ATTENTION (app/metrics.ts). */
  paymentsParked?: { inc(): void };
  /** One failed posting attempt, by failure type. */
  paymentAttemptFailures?: { inc(type: string): void };
  /** Pass to the IMT and IC clients (`onCall`): every call's outcome and duration. */
  onCall?: CallObserver;
  /** One export stage attempt finished (build: IMT → file; upload: file → IC). */
  exportStage?: { done(stage: ExportStage, outcome: 'ok' | 'error', seconds: number): void };
  /** Invoices of a file just built: written, and left out for a missing field. */
  exportInvoices?: { add(written: number, leftOut: number): void };
  /** One reconciliation attempt finished; `byKind` (the report's rows by kind) when it succeeded. */
  reconciliation?: {
    done(outcome: 'ok' | 'error', seconds: number, byKind?: Partial<Record<ReconcileKind, number>>): void;
  };
  /** The job a Schedule runs succeeded now (export: file uploaded; reconcile: day reconciled). */
  scheduledJobSucceeded?: { set(schedule: ScheduledJob): void };
}

export interface ActivityDeps {
  imt: ImtClient;
  ic?: InvoiceCloudClient;
  logger: Logger;
  /** Where export files and their reports are written (never through workflow history). */
  dataDir: string;
  bifDateFormat?: 'YYYY-MM-DD' | 'MM/DD/YYYY';
  /** Delay before a retry after IMT answered 403 (credential may be rotated). */
  authRetryDelayMs: number;
  /**
   * A failed posting counts as a one-off (IMT is up) when IMT answered another call 2xx
   * within this window; default IMT_ANSWERING_WINDOW_MS (activities/payment.ts).
   */
  imtAnsweringWindowMs?: number;
  /**
   * Failed postings per minute on this worker that are still retried soon, whatever IMT
   * answers other calls; default POSTING_RETRY_BUDGET_PER_MINUTE (activities/retry-budget.ts).
   */
  postingRetryBudgetPerMinute?: number;
  alertWebhookUrl?: string;
  /** Window of an alert digest (many runs, one cause): default 10 minutes (workflows/alerts.ts). */
  alertDigestWindowMs?: number;
  /** Base URL of the Temporal UI, for "open in Temporal UI" links in alerts (common/ui.ts). */
  temporalUiUrl?: string;
  metrics?: ActivityMetrics;
  /** How often and how many times an adjustment checks that IC shows the balance sent. */
  icBalanceCheck?: { intervalMs: number; attempts: number };
  /** For activities that read other workflows' state (voids, ACH rejects). */
  temporalClient?: Client;
  /** Records per sorted run of the reconciliation's spills (activities/sorted-spill.ts); tests make it tiny. */
  reconcileSpillRunSize?: number;
}
