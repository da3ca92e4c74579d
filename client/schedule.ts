/**
 * The Temporal Schedule that exports every billing cycle: a daily check (default 06:00
 * America/Chicago, overlap SKIP) of the month before. A cycle's invoices appear in the first
 * days of the next month (contracts C1), so the check uploads nothing until they are there
 * (EMPTY), sends the cycle's file the first morning they are, then late invoices in follow-up
 * files, and alerts once when the cycle is still empty on `emptyAlertDay`
 * (workflows/export-billing-cycle.ts, docs/decisions.md "Exports: when a cycle is ready").
 *
 * The action is `scheduledExportWorkflow`, not the export itself: Temporal names a
 * scheduled run `<scheduleId>-<timestamp>`, while exactly-once per cycle needs the run to
 * be `export-<cycle>`. The starter derives the cycle from `TemporalScheduledStartTime` in
 * the schedule's time zone and runs `export-<cycle>`; the cycle's ledger keeps a catch-up
 * firing, a manual trigger or a re-created schedule from sending any invoice twice. Overlap
 * SKIP: while a starter waits for its export (e.g. at the approval gate), the next day's is skipped.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleHandle,
} from '@temporalio/client';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { msToNumber } from '@temporalio/common';
import { z } from 'zod';
import {
  isTimeZone,
  DEFAULT_CYCLE_MONTH_OFFSET,
  DEFAULT_EMPTY_ALERT_DAY,
  EXPORT_MAX_PAGE_SIZE,
  EXPORT_SCHEDULE_ID,
  EXPORT_SCHEDULE_SUMMARY,
  taskQueuesOf,
  type ScheduledExportInput,
} from '../domain';
import type { scheduledExportWorkflow } from '../workflows/export-billing-cycle';
import { ExportError, parseOrThrow } from './exports';

export const DEFAULT_SCHEDULE_TIME_ZONE = 'America/Chicago';
/** Every day at this time: after IMT's overnight work, before the biller's office opens. */
export const DEFAULT_SCHEDULE_CALENDAR = { hour: 6, minute: 0 } as const;
/**
 * How late a missed firing (server or workers down) is still taken. The check runs daily, so
 * a firing older than a day is replaced by the next one anyway.
 */
export const DEFAULT_CATCHUP_WINDOW = '1 day';

const durationSchema = z
  .union([z.string().min(1), z.number().int().positive()])
  .refine(
    (v) => {
      try {
        return msToNumber(v as Parameters<typeof msToNumber>[0]) > 0;
      } catch {
        return false;
      }
    },
    { message: 'must be a duration such as "3 days", "12h" or a number of milliseconds' },
  )
  .transform((v) => msToNumber(v as Parameters<typeof msToNumber>[0]));

const ScheduleIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, ".", "_" and "-" only');

const ExportScheduleOptionsSchema = z
  .object({
    scheduleId: ScheduleIdSchema.default(EXPORT_SCHEDULE_ID),
    /** The service's queue (TEMPORAL_TASK_QUEUE); the runs go to its bulk pool. */
    taskQueue: z.string().min(1),
    timeZone: z
      .string()
      .refine(isTimeZone, 'must be an IANA time zone, e.g. America/Chicago')
      .default(DEFAULT_SCHEDULE_TIME_ZONE),
    calendar: z
      .object({
        hour: z.number().int().min(0).max(23).default(DEFAULT_SCHEDULE_CALENDAR.hour),
        minute: z.number().int().min(0).max(59).default(DEFAULT_SCHEDULE_CALENDAR.minute),
      })
      .strict()
      .default({ ...DEFAULT_SCHEDULE_CALENDAR }),
    catchupWindow: durationSchema.default(msToNumber(DEFAULT_CATCHUP_WINDOW)),
    paused: z.boolean().default(false),
    note: z.string().max(500).optional(),
    approvalRequired: z.boolean().default(false),
    pageSize: z.number().int().min(1).max(EXPORT_MAX_PAGE_SIZE).optional(),
    /** -1 (default) = export the month before the one the schedule fires in. */
    cycleMonthOffset: z.number().int().min(-12).max(12).default(DEFAULT_CYCLE_MONTH_OFFSET),
    /** From this day of the month, a cycle still EMPTY raises one alert. */
    emptyAlertDay: z.number().int().min(1).max(31).default(DEFAULT_EMPTY_ALERT_DAY),
  })
  .strict();
export type ExportScheduleOptions = z.input<typeof ExportScheduleOptionsSchema>;

export type ScheduleWriteMode = 'create' | 'update' | 'upsert';

/**
 * Creates the export schedule, or replaces its spec, action and policies when it exists
 * (`mode` 'create' / 'update' refuse the other case). Paused state and note follow `paused`.
 */
export async function createOrUpdateExportSchedule(
  client: Client,
  options: ExportScheduleOptions,
  mode: ScheduleWriteMode = 'upsert',
): Promise<{ scheduleId: string; created: boolean }> {
  const o = parseOrThrow(ExportScheduleOptionsSchema, options);
  const input: ScheduledExportInput = {
    timeZone: o.timeZone,
    cycleMonthOffset: o.cycleMonthOffset,
    emptyAlertDay: o.emptyAlertDay,
    approvalRequired: o.approvalRequired,
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
  };
  const spec = {
    calendars: [
      {
        hour: o.calendar.hour,
        minute: o.calendar.minute,
        comment: "daily: export the previous billing cycle's new billable invoices to Invoice Cloud",
      },
    ],
    timezone: o.timeZone,
  };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'scheduledExportWorkflow',
    // Temporal appends the scheduled time: `export-billing-cycles-2022-09-01T11:00:00Z`.
    workflowId: o.scheduleId,
    // The service's queue names both pools; an export runs on the bulk one.
    taskQueue: taskQueuesOf(o.taskQueue).bulk,
    args: [input] as Parameters<typeof scheduledExportWorkflow>,
    staticSummary: EXPORT_SCHEDULE_SUMMARY,
  };
  const note = o.note ?? (o.paused ? 'created paused' : undefined);
  return writeSchedule(
    client,
    { scheduleId: o.scheduleId, spec, action, catchupWindow: o.catchupWindow, paused: o.paused, note },
    mode,
  );
}

type ScheduleCreation = Parameters<Client['schedule']['create']>[0];

/**
 * The one create-or-update of this service's Schedules (the export here, the daily
 * reconciliation in client/reconcile.ts): overlap SKIP; on update the spec and action are
 * replaced, the policies merged, and the paused state and note follow `paused` / `note`.
 */
export async function writeSchedule(
  client: Client,
  s: {
    scheduleId: string;
    spec: ScheduleCreation['spec'];
    action: ScheduleCreation['action'];
    catchupWindow: NonNullable<ScheduleCreation['policies']>['catchupWindow'];
    paused: boolean;
    note?: string;
  },
  mode: ScheduleWriteMode = 'upsert',
): Promise<{ scheduleId: string; created: boolean }> {
  const { scheduleId, spec, action, paused, note } = s;
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindow };
  if (mode !== 'update') {
    try {
      await client.schedule.create({
        scheduleId,
        spec,
        action,
        policies,
        state: { paused, ...(note ? { note } : {}) },
      });
      return { scheduleId, created: true };
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      if (mode === 'create') {
        throw new ExportError(
          'ALREADY_EXISTS',
          `schedule ${scheduleId} already exists: change it with "schedule update"`,
          { cause: err },
        );
      }
    }
  }
  await withSchedule(client, scheduleId, (handle) =>
    handle.update((previous) => ({
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, ...policies },
      state: { ...previous.state, paused, ...(note ? { note } : {}) },
    })),
  );
  return { scheduleId, created: false };
}

export interface ExportScheduleView {
  scheduleId: string;
  paused: boolean;
  note?: string;
  timeZone: string;
  calendar?: { hour: number; minute: number };
  catchupWindowMs?: number;
  overlap: string;
  taskQueue?: string;
  workflowType?: string;
  input?: ScheduledExportInput;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string; runId: string }[];
  runningWorkflowIds: string[];
}

async function withSchedule<T>(
  client: Client,
  scheduleId: string,
  fn: (handle: ScheduleHandle) => Promise<T>,
): Promise<T> {
  const id = parseOrThrow(ScheduleIdSchema, scheduleId);
  try {
    return await fn(client.schedule.getHandle(id));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new ExportError('NOT_FOUND', `schedule ${id} does not exist: create it with "schedule create"`, {
        cause: err,
      });
    }
    throw err;
  }
}

export async function describeExportSchedule(
  client: Client,
  scheduleId: string = EXPORT_SCHEDULE_ID,
): Promise<ExportScheduleView> {
  const d = await withSchedule(client, scheduleId, (h) => h.describe());
  const first = d.spec.calendars?.[0];
  const start = (ranges: { start: number }[] | undefined) => ranges?.[0]?.start ?? 0;
  const action = d.action.type === 'startWorkflow' ? d.action : undefined;
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note,
    timeZone: d.spec.timezone || 'UTC',
    calendar: first ? { hour: start(first.hour), minute: start(first.minute) } : undefined,
    catchupWindowMs: d.policies.catchupWindow,
    overlap: d.policies.overlap ?? 'SKIP',
    taskQueue: action?.taskQueue,
    workflowType: action?.workflowType,
    input: action?.args?.[0] as ScheduledExportInput | undefined,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
    })),
    runningWorkflowIds: d.info.runningActions.map((a) => a.workflow.workflowId),
  };
}

export async function pauseExportSchedule(
  client: Client,
  scheduleId = EXPORT_SCHEDULE_ID,
  note?: string,
): Promise<void> {
  await withSchedule(client, scheduleId, (h) => h.pause(note ?? 'paused by an operator'));
}

export async function unpauseExportSchedule(
  client: Client,
  scheduleId = EXPORT_SCHEDULE_ID,
  note?: string,
): Promise<void> {
  await withSchedule(client, scheduleId, (h) => h.unpause(note ?? 'unpaused by an operator'));
}

/**
 * Takes the action now (also when paused): the daily check of the previous month's cycle, at
 * once — its file when IMT has its billable invoices, late invoices, or nothing.
 */
export async function triggerExportSchedule(client: Client, scheduleId = EXPORT_SCHEDULE_ID): Promise<void> {
  await withSchedule(client, scheduleId, (h) => h.trigger());
}

export async function deleteExportSchedule(client: Client, scheduleId = EXPORT_SCHEDULE_ID): Promise<void> {
  await withSchedule(client, scheduleId, (h) => h.delete());
}
