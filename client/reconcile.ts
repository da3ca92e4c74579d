/**
 * Client side of the daily reconciliation: run a day now, find a finished day's summary,
 * read its CSV report, and the Temporal Schedule that reconciles yesterday every day.
 *
 * Exactly one scheduled run per date: the Schedule's action (`scheduledReconcileWorkflow`)
 * starts `reconcile-<date>` with ALLOW_DUPLICATE_FAILED_ONLY. An operator's
 * `imt-ic reconcile --date D` runs a fresh comparison under its own ID
 * (`reconcile-<date>-manual-<timestamp>`), so the scheduled run stays one per date.
 */
import fs from 'node:fs';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import {
  taskQueuesOf,
  isTimeZone,
  isCalendarDate,
  RECONCILE_SCHEDULE_ID,
  ReconcileKind,
  manualReconcileWorkflowId,
  reconcileWorkflowId,
  type ReconcileProgress,
  type ReconcileRow,
  type ReconcileSummary,
  type ReconcileTotals,
  type ScheduledReconcileInput,
} from '../domain';
import type { reconcileWorkflow, scheduledReconcileWorkflow } from '../workflows/reconcile';
import { writeSchedule } from './schedule';
import { heartbeatDetailsOf } from './heartbeat';

export const DEFAULT_RECONCILE_CALENDAR = { hour: 4, minute: 0 } as const;
export const RECONCILE_CATCHUP_WINDOW_MS = 3 * 24 * 3600 * 1000;
/** `--from/--to` runs one day after the other; a longer range is a mistake more often than not. */
export const MAX_RECONCILE_RANGE_DAYS = 92;

export const ReconcileDateSchema = z
  .string()
  .trim()
  .refine(isCalendarDate, { message: 'must be a date YYYY-MM-DD (e.g. 2022-10-03)' });
export const TimeZoneSchema = z
  .string()
  .refine(isTimeZone, { message: 'must be an IANA time zone, e.g. America/Chicago' });

/** Dates from `from` to `to`, both inclusive. */
export function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

export interface ReconcileTarget {
  client: Client;
  /** The service's queue (TEMPORAL_TASK_QUEUE); reconciliations run on its bulk pool. */
  taskQueue: string;
  timeZone: string;
}

/** The `reconcileDay` activity's heartbeat (`ReconcileProgress`), as the CLI reads it back. */
const ReconcileProgressSchema = z.object({
  phase: z.enum(['listing-service', 'listing-imt', 'comparing', 'writing']),
  serviceRunsListed: z.number().int().nonnegative(),
  imtPages: z.number().int().nonnegative(),
  imtCount: z.number().int().nonnegative().nullable(),
});

/** Where a running reconciliation is: its activity's last heartbeat, plus a retry's attempt. */
export interface ReconcileLiveProgress extends ReconcileProgress {
  attempt?: number;
  lastFailure?: string;
}

/** How often a waiting caller looks at a running reconciliation's progress. */
const PROGRESS_EVERY_MS = 500;

/**
 * Runs a fresh reconciliation of `date` (its own workflow ID) and waits for its summary;
 * with `onProgress`, reports the activity's heartbeat while it runs (a long day takes a minute).
 */
export async function runReconciliation(
  target: ReconcileTarget,
  date: string,
  opts: {
    pageSize?: number;
    requestedBy?: string;
    onProgress?: (p: ReconcileLiveProgress) => void;
    progressEveryMs?: number;
  } = {},
): Promise<ReconcileSummary> {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').replace('T', 't').toLowerCase();
  const handle = await target.client.workflow.start<typeof reconcileWorkflow>('reconcileWorkflow', {
    workflowId: manualReconcileWorkflowId(date, stamp),
    taskQueue: taskQueuesOf(target.taskQueue).bulk,
    args: [
      { date, timeZone: target.timeZone, pageSize: opts.pageSize, requestedBy: opts.requestedBy ?? 'cli' },
    ],
    staticSummary: `Reconciliation of ${date} (${target.timeZone}), on request`,
  });
  const result = handle.result();
  if (!opts.onProgress) return result;
  let done = false;
  const finished = result.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    await Promise.race([
      finished,
      new Promise((r) => setTimeout(r, opts.progressEveryMs ?? PROGRESS_EVERY_MS)),
    ]);
    if (done) break;
    const live = await reconcileProgress(target.client, handle.workflowId).catch(() => undefined);
    if (live && !done) opts.onProgress(live);
  }
  return result;
}

/** The progress of a running reconciliation, or undefined before its activity heartbeats. */
export async function reconcileProgress(
  client: Client,
  workflowId: string,
): Promise<ReconcileLiveProgress | undefined> {
  const desc = await client.workflow.getHandle(workflowId).describe();
  for (const activity of desc.raw.pendingActivities ?? []) {
    const parsed = ReconcileProgressSchema.safeParse(await heartbeatDetailsOf(client, activity));
    if (!parsed.success) continue;
    const retry =
      (activity.attempt ?? 1) > 1
        ? { attempt: activity.attempt ?? undefined, lastFailure: activity.lastFailure?.message ?? undefined }
        : {};
    return { ...parsed.data, ...retry };
  }
  return undefined;
}

/**
 * The most recently finished reconciliation of `date` on this task queue — the scheduled
 * `reconcile-<date>` or a later manual run — or undefined when none finished.
 */
export async function latestReconciliation(
  client: Client,
  serviceQueue: string,
  date: string,
): Promise<ReconcileSummary | undefined> {
  const prefix = reconcileWorkflowId(date);
  const taskQueue = taskQueuesOf(serviceQueue).bulk;
  let best: { closed: number; workflowId: string; runId: string } | undefined;
  const query =
    `WorkflowType = 'reconcileWorkflow' AND TaskQueue = '${taskQueue.replace(/'/g, "\\'")}' ` +
    `AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${prefix}'`;
  for await (const wf of client.workflow.list({ query })) {
    // `reconcile-2022-10-03` and `reconcile-2022-10-03-manual-…` only.
    if (wf.workflowId !== prefix && !wf.workflowId.startsWith(`${prefix}-manual-`)) continue;
    const closed = wf.closeTime?.getTime() ?? 0;
    if (!best || closed > best.closed) best = { closed, workflowId: wf.workflowId, runId: wf.runId };
  }
  if (!best) return undefined;
  return (await client.workflow.getHandle(best.workflowId, best.runId).result()) as ReconcileSummary;
}

export interface ReconcileReport {
  rows: ReconcileRow[];
  totals: { service: ReconcileTotals; imt: ReconcileTotals };
}

const TOTAL_KEYS: Record<string, keyof ReconcileTotals> = {
  TOTAL_DELIVERED: 'deliveredCents',
  TOTAL_POSTED: 'postedCents',
  TOTAL_REVERSED: 'reversedCents',
  TOTAL_NET: 'netCents',
};

/** Reads a report written by the `reconcileDay` activity (columns: activities/reconcile-report.ts). */
export function readReconcileReport(reportPath: string): ReconcileReport {
  const records = parseCsv(fs.readFileSync(reportPath), { columns: true, skip_empty_lines: true }) as Record<
    string,
    string
  >[];
  const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
  const str = (v: string | undefined) => (v === undefined || v === '' ? null : v);
  const rows: ReconcileRow[] = [];
  const zero = (): ReconcileTotals => ({ deliveredCents: 0, postedCents: 0, reversedCents: 0, netCents: 0 });
  const totals = { service: zero(), imt: zero() };
  for (const r of records) {
    const total = TOTAL_KEYS[r.kind];
    if (total) {
      totals.service[total] = num(r.service_amount_cents) ?? 0;
      totals.imt[total] = num(r.imt_amount_cents) ?? 0;
      continue;
    }
    rows.push({
      kind: r.kind as ReconcileKind,
      transaction_id: r.transaction_id,
      customer: r.customer,
      service_invoice_number: str(r.service_invoice_number),
      imt_invoice_number: str(r.imt_invoice_number),
      service_amount_cents: num(r.service_amount_cents),
      imt_amount_cents: num(r.imt_amount_cents),
      service_status: str(r.service_status),
      imt_status: str(r.imt_status),
      detail: r.detail,
    });
  }
  return { rows, totals };
}

/** Differences first (in the report's order), then what is still in flight. */
export function sortRows(rows: ReconcileRow[]): ReconcileRow[] {
  return [
    ...rows.filter((r) => r.kind !== ReconcileKind.IN_FLIGHT),
    ...rows.filter((r) => r.kind === ReconcileKind.IN_FLIGHT),
  ];
}

// ---------------------------------------------------------------------------
// The daily Schedule

export const ReconcileScheduleOptionsSchema = z
  .object({
    scheduleId: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, ".", "_" and "-" only')
      .default(RECONCILE_SCHEDULE_ID),
    /** The service's queue (TEMPORAL_TASK_QUEUE); the runs go to its bulk pool. */
    taskQueue: z.string().min(1),
    timeZone: TimeZoneSchema,
    hour: z.number().int().min(0).max(23).default(DEFAULT_RECONCILE_CALENDAR.hour),
    minute: z.number().int().min(0).max(59).default(DEFAULT_RECONCILE_CALENDAR.minute),
    paused: z.boolean().default(false),
    pageSize: z.number().int().min(1).max(1000).optional(),
  })
  .strict();
export type ReconcileScheduleOptions = z.input<typeof ReconcileScheduleOptionsSchema>;

/**
 * Creates the daily reconciliation Schedule (or updates it in place): every day at
 * `hour:minute` in the biller's time zone, reconciling the day before. Overlap SKIP,
 * catch-up window 3 days (a missed day is still taken after a short outage).
 */
export async function createOrUpdateReconcileSchedule(
  client: Client,
  options: ReconcileScheduleOptions,
): Promise<{ scheduleId: string; created: boolean }> {
  const parsed = ReconcileScheduleOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new TypeError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const o = parsed.data;
  const input: ScheduledReconcileInput = {
    timeZone: o.timeZone,
    dayOffset: -1,
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
  };
  const spec = {
    calendars: [{ hour: o.hour, minute: o.minute, comment: 'reconcile the previous day' }],
    timezone: o.timeZone,
  };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'scheduledReconcileWorkflow',
    workflowId: o.scheduleId,
    taskQueue: taskQueuesOf(o.taskQueue).bulk,
    args: [input] as Parameters<typeof scheduledReconcileWorkflow>,
  };
  return writeSchedule(client, {
    scheduleId: o.scheduleId,
    spec,
    action,
    catchupWindow: RECONCILE_CATCHUP_WINDOW_MS,
    paused: o.paused,
  });
}

export async function describeReconcileSchedule(client: Client, scheduleId = RECONCILE_SCHEDULE_ID) {
  try {
    const d = await client.schedule.getHandle(scheduleId).describe();
    const cal = d.spec.calendars?.[0];
    return {
      scheduleId,
      paused: d.state.paused,
      timeZone: d.spec.timezone || 'UTC',
      hour: cal?.hour?.[0]?.start ?? 0,
      minute: cal?.minute?.[0]?.start ?? 0,
      nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
      recentActions: d.info.recentActions.map((a) => ({
        scheduledAt: a.scheduledAt.toISOString(),
        workflowId: a.action.workflow.workflowId,
      })),
    };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

export async function deleteReconcileSchedule(
  client: Client,
  scheduleId = RECONCILE_SCHEDULE_ID,
): Promise<boolean> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
