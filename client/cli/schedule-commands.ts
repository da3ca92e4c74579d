/**
 * `imt-ic schedule …` — the Temporal Schedule that exports each billing cycle exactly once:
 * create, update, describe, pause, unpause, trigger, delete. Exit codes as for `export`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import {
  DEFAULT_CATCHUP_WINDOW,
  DEFAULT_SCHEDULE_CALENDAR,
  DEFAULT_SCHEDULE_TIME_ZONE,
  createOrUpdateExportSchedule,
  deleteExportSchedule,
  describeExportSchedule,
  pauseExportSchedule,
  triggerExportSchedule,
  unpauseExportSchedule,
  type ExportScheduleOptions,
  type ExportScheduleView,
} from '../schedule';
import { DEFAULT_CYCLE_MONTH_OFFSET, DEFAULT_EMPTY_ALERT_DAY, EXPORT_SCHEDULE_ID } from '../../domain';
import { parseArgs, type CommandContext, type GetContext } from './context';
import { envDefaults, exportAction, int } from './export-commands';
import { describeSchedule } from './export-render';
import { commandIo, json } from './format';

const ScheduleFlags = z
  .object({
    id: z.string().default(EXPORT_SCHEDULE_ID),
    timeZone: z.string().optional(),
    emptyAlertDay: int(1, 31).optional(),
    hour: int(0, 23).optional(),
    minute: int(0, 59).optional(),
    catchupWindow: z.string().optional(),
    paused: z.boolean().optional(),
    approveRequired: z.boolean().optional(),
    cycleOffset: int(-12, 12).optional(),
    json: z.boolean().optional(),
  })
  .strict();
type ScheduleFlags = z.output<typeof ScheduleFlags>;

const IdFlags = z
  .object({
    id: z.string().default(EXPORT_SCHEDULE_ID),
    json: z.boolean().optional(),
    note: z.string().max(500).optional(),
  })
  .strict();

function withScheduleFlags(cmd: Command, defaults: boolean): Command {
  const d = (value: string) => (defaults ? ` (default ${value})` : '');
  return cmd
    .option('--id <scheduleId>', 'schedule ID', EXPORT_SCHEDULE_ID)
    .option('--time-zone <tz>', `IANA time zone of the calendar${d(DEFAULT_SCHEDULE_TIME_ZONE)}`)
    .option('--hour <n>', `hour, 0–23${d(String(DEFAULT_SCHEDULE_CALENDAR.hour))}`)
    .option('--minute <n>', `minute, 0–59${d(String(DEFAULT_SCHEDULE_CALENDAR.minute))}`)
    .option(
      '--catchup-window <duration>',
      `how late a missed run is still taken, e.g. "3 days"${d(DEFAULT_CATCHUP_WINDOW)}`,
    )
    .option('--paused', 'leave the schedule paused')
    .option('--approve-required', 'scheduled exports wait for an operator approval before upload')
    .option(
      '--cycle-offset <months>',
      `export the month of the scheduled time plus this many months${d(String(DEFAULT_CYCLE_MONTH_OFFSET))}`,
    )
    .option(
      '--empty-alert-day <n>',
      `alert once when the cycle is still empty on this day of the month or later${d(String(DEFAULT_EMPTY_ALERT_DAY))}`,
    )
    .option('--json', 'print the schedule as JSON');
}

function scheduleOptions(
  taskQueue: string,
  flags: ScheduleFlags,
  current?: ExportScheduleView,
): ExportScheduleOptions {
  return {
    scheduleId: flags.id,
    taskQueue,
    timeZone: flags.timeZone ?? current?.timeZone ?? envDefaults().EXPORT_SCHEDULE_TIMEZONE,
    calendar: {
      hour: flags.hour ?? current?.calendar?.hour,
      minute: flags.minute ?? current?.calendar?.minute,
    },
    catchupWindow: flags.catchupWindow ?? current?.catchupWindowMs,
    paused: flags.paused ?? current?.paused ?? false,
    approvalRequired:
      flags.approveRequired ??
      current?.input?.approvalRequired ??
      envDefaults().EXPORT_APPROVAL_REQUIRED ??
      false,
    cycleMonthOffset: flags.cycleOffset ?? current?.input?.cycleMonthOffset ?? DEFAULT_CYCLE_MONTH_OFFSET,
    emptyAlertDay: flags.emptyAlertDay ?? current?.input?.emptyAlertDay ?? DEFAULT_EMPTY_ALERT_DAY,
    ...(current?.input?.pageSize !== undefined ? { pageSize: current.input.pageSize } : {}),
  };
}

async function show(ctx: CommandContext, cmd: Command, id: string, asJson?: boolean): Promise<void> {
  const view = await describeExportSchedule(ctx.client, id);
  commandIo(cmd).out(asJson ? json(view) : describeSchedule(view));
}

export function registerScheduleCommands(program: Command, getContext: GetContext): Command {
  const schedule = program
    .command('schedule')
    .description(
      'the Temporal Schedule that checks each day for a billing cycle to export (no invoice twice)',
    );
  registerCreateAndUpdate(schedule, getContext);
  schedule
    .command('describe')
    .description('show the export schedule: calendar, time zone, state, next and recent runs')
    .option('--id <scheduleId>', 'schedule ID', EXPORT_SCHEDULE_ID)
    .option('--json', 'print the schedule as JSON')
    .action(
      exportAction(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = parseArgs(IdFlags, raw);
        await show(ctx, cmd, flags.id, flags.json);
      }),
    );
  registerStateChanges(schedule, getContext);
  return schedule;
}

function registerCreateAndUpdate(schedule: Command, getContext: GetContext): void {
  withScheduleFlags(schedule.command('create').description('create the export schedule'), true).action(
    exportAction(getContext, async (ctx, cmd, raw: unknown) => {
      const flags = parseArgs(ScheduleFlags, raw);
      await createOrUpdateExportSchedule(ctx.client, scheduleOptions(ctx.taskQueue, flags), 'create');
      await show(ctx, cmd, flags.id, flags.json);
    }),
  );

  withScheduleFlags(
    schedule
      .command('update')
      .description('change the export schedule; options not given keep their current value'),
    false,
  )
    .option('--no-paused', 'unpause the schedule')
    .option('--no-approve-required', 'scheduled exports upload without waiting for approval')
    .action(
      exportAction(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = parseArgs(ScheduleFlags, raw);
        const current = await describeExportSchedule(ctx.client, flags.id);
        await createOrUpdateExportSchedule(
          ctx.client,
          scheduleOptions(ctx.taskQueue, flags, current),
          'update',
        );
        await show(ctx, cmd, flags.id, flags.json);
      }),
    );
}

interface StateChange {
  name: string;
  description: string;
  run: (ctx: CommandContext, id: string, note?: string) => Promise<void>;
  done: (id: string) => string;
  withNote?: boolean;
}

const STATE_CHANGES: StateChange[] = [
  {
    name: 'pause',
    description: 'pause the export schedule',
    run: (ctx, id, note) => pauseExportSchedule(ctx.client, id, note),
    done: (id) => `Paused ${id}.\n`,
    withNote: true,
  },
  {
    name: 'unpause',
    description: 'resume the export schedule',
    run: (ctx, id, note) => unpauseExportSchedule(ctx.client, id, note),
    done: (id) => `Unpaused ${id}.\n`,
    withNote: true,
  },
  {
    name: 'trigger',
    description:
      "run the schedule's daily check now: the previous month's cycle, its file or late invoices (nothing twice)",
    run: (ctx, id) => triggerExportSchedule(ctx.client, id),
    done: (id) => `Triggered ${id}; see "schedule describe" and "export status <cycle>".\n`,
  },
  {
    name: 'delete',
    description: 'delete the export schedule (exports already started are not affected)',
    run: (ctx, id) => deleteExportSchedule(ctx.client, id),
    done: (id) => `Deleted ${id}.\n`,
  },
];

/** pause, unpause, trigger, delete: one call on the schedule, then a line (or, with --json, the schedule). */
function registerStateChanges(schedule: Command, getContext: GetContext): void {
  for (const change of STATE_CHANGES) {
    const c = schedule
      .command(change.name)
      .description(change.description)
      .option('--id <scheduleId>', 'schedule ID', EXPORT_SCHEDULE_ID)
      .option('--json', 'print the schedule as JSON afterwards');
    if (change.withNote) c.option('--note <text>', 'why (shown in the Temporal UI)');
    c.action(
      exportAction(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = parseArgs(IdFlags, raw);
        await change.run(ctx, flags.id, flags.note);
        // A deleted schedule has nothing left to show.
        if (flags.json && change.name !== 'delete') await show(ctx, cmd, flags.id, true);
        else commandIo(cmd).out(change.done(flags.id));
      }),
    );
  }
}
