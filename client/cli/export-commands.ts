/**
 * Operator commands for billing-cycle exports and their Schedule (commander). The CLI's
 * main program (client/cli/main.ts) registers them with
 * `registerExportCommands(program, getContext)` and `registerScheduleCommands(program, getContext)`.
 *
 * Every argument is validated with zod before anything is sent to Temporal. Exit codes:
 * 0 done · 1 the export failed or an unexpected error · 2 invalid arguments ·
 * 3 no such export / schedule · 4 refused in the current state (already exported,
 * running, not awaiting approval, no file yet, schedule exists).
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  BillingCycleSchema,
  ExportError,
  approveExport,
  exportReport,
  exportStatus,
  parseOrThrow,
  rejectExport,
  startExport,
  type ExportErrorCode,
  type ExportReport,
  type ExportStatusView,
} from '../exports';
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
import {
  isTimeZone,
  EXPORT_MAX_PAGE_SIZE,
  EXPORT_SCHEDULE_ID,
  ExportStatus,
  workflowIds,
} from '../../domain';

export interface CliContext {
  client: Client;
  taskQueue: string;
  namespace: string;
  temporalUiUrl?: string;
}
export type GetCliContext = () => Promise<CliContext>;

export const EXIT = { failed: 1, usage: 2, notFound: 3, refused: 4 } as const;

const EXIT_BY_CODE: Record<ExportErrorCode, number> = {
  INVALID_INPUT: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  ALREADY_EXPORTED: EXIT.refused,
  ALREADY_RUNNING: EXIT.refused,
  ALREADY_EXISTS: EXIT.refused,
  NOT_AWAITING_APPROVAL: EXIT.refused,
  NO_FILE_YET: EXIT.refused,
  EXPORT_FAILED: EXIT.failed,
};

// ---------------------------------------------------------------------------
// Plumbing: output through commander's configured writers (so main.ts and tests can
// redirect it), and one place that turns errors into a message and an exit code.

function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

function writers(cmd: Command): { out: (s: string) => void; err: (s: string) => void } {
  const config = root(cmd).configureOutput();
  return {
    out: (s) => (config.writeOut ? config.writeOut(s) : process.stdout.write(s)),
    err: (s) => (config.writeErr ? config.writeErr(s) : process.stderr.write(s)),
  };
}

function fail(cmd: Command, err: unknown): never {
  if (err instanceof ExportError) {
    cmd.error(`error: ${err.message}`, {
      exitCode: EXIT_BY_CODE[err.code],
      code: `export.${err.code.toLowerCase()}`,
    });
  }
  // Errors that carry their own exit code (e.g. main.ts's UsageError from the context) keep it.
  const own = (err as { exitCode?: unknown } | undefined)?.exitCode;
  const exitCode = typeof own === 'number' && own > 0 ? own : EXIT.failed;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  cmd.error(`error: ${message}`, { exitCode, code: 'export.unexpected' });
}

/** Runs an action with validated input; every failure becomes a message and an exit code. */
function action<A extends unknown[]>(
  getContext: GetCliContext,
  run: (ctx: CliContext, cmd: Command, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    try {
      const ctx = await getContext();
      await run(ctx, cmd, ...(args.slice(0, -1) as A));
    } catch (err) {
      // commander's own exits (exitOverride) pass through untouched.
      if (err instanceof Error && err.name === 'CommanderError') throw err;
      fail(cmd, err);
    }
  };
}

/** zod over a command's options, with commander's flag names in the messages. */
function options<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  return parseOrThrow(schema, value);
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

function uiLink(ctx: CliContext, workflowId: string): string | undefined {
  if (!ctx.temporalUiUrl) return undefined;
  return `${ctx.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ctx.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The service's export settings (contracts A / common/config.ts) as the CLI's defaults:
 * EXPORT_APPROVAL_REQUIRED turns the approval gate on for starts and new schedules,
 * EXPORT_SCHEDULE_TIMEZONE is the schedule's default time zone. Flags override them.
 */
const CliEnvSchema = z.object({
  EXPORT_APPROVAL_REQUIRED: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1' || v === 'yes')),
  EXPORT_SCHEDULE_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone').optional(),
});

function envDefaults(): z.output<typeof CliEnvSchema> {
  const pick = (name: string) => process.env[name]?.trim() || undefined;
  return parseOrThrow(CliEnvSchema, {
    EXPORT_APPROVAL_REQUIRED: pick('EXPORT_APPROVAL_REQUIRED'),
    EXPORT_SCHEDULE_TIMEZONE: pick('EXPORT_SCHEDULE_TIMEZONE'),
  });
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const n = (value: number) => value.toLocaleString('en-US');

// ---------------------------------------------------------------------------
// Rendering

export function progressBar(view: ExportStatusView, width = 30): string {
  const p = view.progress;
  const phase = view.status ?? view.execution;
  if (!p) return phase;
  const retry =
    p.attempt && p.attempt > 1 ? ` · attempt ${p.attempt}${p.lastFailure ? `: ${p.lastFailure}` : ''}` : '';
  if (phase === ExportStatus.UPLOADING)
    return `uploading ${view.summary?.file?.fileName ?? 'the file'} to IC${retry}`;
  if (!p.totalCount) return `${phase}: page ${p.pagesDone}${retry}`;
  const fraction = Math.min(1, p.invoicesRead / p.totalCount);
  const filled = Math.round(fraction * width);
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ` +
    `${n(p.invoicesRead)}/${n(p.totalCount)} invoices · page ${p.pagesDone}/${p.totalPages ?? '?'} · ${phase}${retry}`
  );
}

function describeStatus(view: ExportStatusView, ctx: CliContext): string {
  const lines = [`Export ${view.cycle} (${view.workflowId}): ${view.status ?? view.execution}`];
  const file = view.result ?? view.summary?.file;
  if (file) {
    lines.push(`  File:      ${file.fileName} (${n(file.bytes)} bytes, sha256 ${file.sha256.slice(0, 16)}…)`);
    lines.push(
      `  Invoices:  ${n(file.invoiceCount)} totalling ${file.totalAmount}; ${n(file.rejectedCount)} left out` +
        (file.rejectedCount > 0 ? ` (export report ${view.cycle})` : ''),
    );
  }
  if (view.result)
    lines.push(`  IC:        ${n(view.result.icInvoiceCount)} invoices, uploaded ${view.result.uploadedAt}`);
  if (view.execution === 'RUNNING' && view.progress) lines.push(`  Progress:  ${progressBar(view)}`);
  if (view.status === ExportStatus.AWAITING_APPROVAL) {
    lines.push(
      `  Waiting for an operator: export approve ${view.cycle} | export reject ${view.cycle} --reason "…"`,
    );
  }
  if (view.summary?.decision) {
    const d = view.summary.decision;
    lines.push(`  Decision:  ${d.decision}${d.by ? ` by ${d.by}` : ''}${d.reason ? `: ${d.reason}` : ''}`);
  }
  if (view.failure) lines.push(`  Failure:   ${view.failure}`);
  lines.push(`  Started:   ${view.startedAt}${view.closedAt ? ` · ended ${view.closedAt}` : ''}`);
  const link = uiLink(ctx, view.workflowId);
  if (link) lines.push(`  Temporal:  ${link}`);
  return `${lines.join('\n')}\n`;
}

function describeReport(report: ExportReport): string {
  const f = report.file;
  const lines = [
    `Export report ${report.cycle}: ${report.status ?? report.execution}`,
    `  File:      ${f.fileName}`,
    `  Path:      ${f.filePath}`,
    `  sha256:    ${f.sha256}`,
    `  Size:      ${n(f.bytes)} bytes`,
    `  Invoices:  ${n(f.invoiceCount)} in the file, totalling ${f.totalAmount}`,
    `  Cleaned:   ${n(f.sanitizedCount)} rows had line breaks, '|' or control characters replaced`,
    `  Left out:  ${n(report.rejectedTotal)}${report.rejectedTotal > 0 ? ` (all listed in ${f.rejectedPath})` : ''}`,
  ];
  if (report.upload)
    lines.push(
      `  IC:        ${n(report.upload.icInvoiceCount)} invoices, uploaded ${report.upload.uploadedAt}`,
    );
  if (report.failure) lines.push(`  Failure:   ${report.failure}`);
  if (report.rejected.length > 0) {
    lines.push(
      '',
      report.rejectedFromFile
        ? 'Invoices left out:'
        : 'Invoices left out (first 20; the full list is on the worker):',
    );
    const width = Math.max(14, ...report.rejected.map((r) => (r.invoice_number ?? '-').length));
    lines.push(`  ${'invoice'.padEnd(width)}  ${'customer'.padEnd(8)}  reasons`);
    for (const r of report.rejected) {
      lines.push(
        `  ${(r.invoice_number ?? '-').padEnd(width)}  ${(r.customer_id ?? '-').padEnd(8)}  ${r.reasons.join('; ')}`,
      );
    }
    if (report.rejected.length < report.rejectedTotal)
      lines.push(`  … ${n(report.rejectedTotal - report.rejected.length)} more`);
  }
  return `${lines.join('\n')}\n`;
}

function describeSchedule(view: ExportScheduleView): string {
  const c = view.calendar;
  const when = c
    ? `day ${c.dayOfMonth} of every month at ${String(c.hour).padStart(2, '0')}:${String(c.minute).padStart(2, '0')} ${view.timeZone}`
    : `(no calendar) ${view.timeZone}`;
  const lines = [
    `Schedule ${view.scheduleId}: ${view.paused ? 'PAUSED' : 'active'}${view.note ? ` (${view.note})` : ''}`,
    `  When:       ${when}`,
    `  Exports:    the cycle of the scheduled month${view.input?.cycleMonthOffset ? ` ${view.input.cycleMonthOffset > 0 ? '+' : ''}${view.input.cycleMonthOffset} month(s)` : ''}${view.input?.approvalRequired ? ', approval required' : ''}`,
    `  Catch-up:   ${view.catchupWindowMs !== undefined ? `${Math.round(view.catchupWindowMs / 3_600_000)} h` : 'default'} · overlap ${view.overlap}`,
    `  Task queue: ${view.taskQueue ?? '-'}`,
    `  Next:       ${view.nextActionTimes.slice(0, 3).join(', ') || '-'}`,
  ];
  for (const a of view.recentActions.slice(-5))
    lines.push(`  Ran:        ${a.scheduledAt} → ${a.workflowId}`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// export …

const StartFlags = z
  .object({
    approveRequired: z.boolean().optional(),
    force: z.boolean().optional(),
    wait: z.boolean().optional(),
    pageSize: int(1, EXPORT_MAX_PAGE_SIZE).optional(),
    json: z.boolean().optional(),
  })
  .strict();
const StatusFlags = z
  .object({ follow: z.boolean(), json: z.boolean().optional(), interval: int(100, 60_000).default(1000) })
  .strict();
const ReportFlags = z.object({ json: z.boolean().optional(), limit: int(1, 1_000_000).optional() }).strict();
const ApproveFlags = z
  .object({ by: z.string().trim().min(1).max(200).optional(), note: z.string().max(2000).optional() })
  .strict();
const RejectFlags = z
  .object({
    reason: z.string().trim().min(1, '--reason must not be empty').max(2000),
    by: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows a running export on stderr until it ends or needs a person. */
async function follow(
  ctx: CliContext,
  cmd: Command,
  cycle: string,
  intervalMs: number,
): Promise<ExportStatusView> {
  const { err } = writers(cmd);
  const tty = Boolean(process.stderr.isTTY);
  let last = '';
  for (;;) {
    const view = await exportStatus(ctx.client, cycle);
    const running = view.execution === 'RUNNING' && view.status !== ExportStatus.AWAITING_APPROVAL;
    if (running) {
      const line = progressBar(view);
      if (tty) err(`\r${line}\x1b[K`);
      else if (line !== last) err(`${line}\n`);
      last = line;
      await sleep(intervalMs);
      continue;
    }
    if (tty && last) err('\r\x1b[K');
    return view;
  }
}

export function registerExportCommands(program: Command, getContext: GetCliContext): Command {
  const exportCmd = program
    .command('export')
    .description("billing-cycle exports: IMT's invoices of a cycle → invoice file → Invoice Cloud");

  exportCmd
    .command('start')
    .description('start the export of a billing cycle (refused when the cycle was already exported)')
    .argument('<cycle>', 'billing cycle, the first day of its month: YYYY-MM-01')
    .option('--approve-required', 'stop after building the file until an operator approves it')
    .option('--no-approve-required', 'upload without approval even when EXPORT_APPROVAL_REQUIRED is set')
    .option('--force', 'export a cycle that was already exported (the same file is not loaded twice by IC)')
    .option('--wait', 'wait for the export to finish, showing progress')
    .option('--page-size <n>', `invoices per IMT listing call (1–${EXPORT_MAX_PAGE_SIZE})`)
    .option('--json', 'print the outcome as JSON')
    .action(
      action(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseOrThrow(BillingCycleSchema, cycleArg);
        const flags = options(StartFlags, raw);
        const { out } = writers(cmd);
        const started = await startExport(ctx.client, ctx.taskQueue, {
          cycle,
          approvalRequired: flags.approveRequired ?? envDefaults().EXPORT_APPROVAL_REQUIRED ?? false,
          force: flags.force ?? false,
          pageSize: flags.pageSize,
          requestedBy: 'cli',
        });
        if (!flags.wait) {
          if (flags.json) out(json(started));
          else {
            const link = uiLink(ctx, started.workflowId);
            out(
              `Started ${started.workflowId}${started.forced ? ' (forced re-run)' : ''}.\n` +
                `Follow it with: export status ${cycle}\n${link ? `Temporal UI: ${link}\n` : ''}`,
            );
          }
          return;
        }
        const view = await follow(ctx, cmd, cycle, 500);
        out(flags.json ? json(view) : describeStatus(view, ctx));
        if (view.execution !== 'RUNNING' && view.execution !== 'COMPLETED') {
          throw new ExportError(
            'EXPORT_FAILED',
            `export of ${cycle} did not complete: ${view.failure ?? view.status}`,
          );
        }
      }),
    );

  exportCmd
    .command('status')
    .description('show an export; while it runs, a progress bar on stderr until it ends or awaits approval')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--no-follow', 'print the current status once, without following')
    .option('--json', 'print the status as JSON (implies --no-follow)')
    .option('--interval <ms>', 'refresh interval while following', '1000')
    .action(
      action(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseOrThrow(BillingCycleSchema, cycleArg);
        const flags = options(StatusFlags, raw);
        const { out } = writers(cmd);
        const view =
          flags.follow && !flags.json
            ? await follow(ctx, cmd, cycle, flags.interval)
            : await exportStatus(ctx.client, cycle);
        out(flags.json ? json(view) : describeStatus(view, ctx));
      }),
    );

  exportCmd
    .command('approve')
    .description('approve an export waiting at the approval gate: its file is uploaded to IC')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--by <name>', 'who approves (recorded in the export)')
    .option('--note <text>', 'a note recorded with the approval')
    .action(
      action(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseOrThrow(BillingCycleSchema, cycleArg);
        const flags = options(ApproveFlags, raw);
        const file = await approveExport(ctx.client, cycle, {
          by: flags.by ?? defaultOperator(),
          note: flags.note,
        });
        writers(cmd).out(
          `Approved ${workflowIds.export(cycle)}${file ? `: uploading ${file.fileName}` : ''}.\n`,
        );
      }),
    );

  exportCmd
    .command('reject')
    .description(
      'reject an export waiting at the approval gate: nothing is sent; the cycle may be started again',
    )
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .requiredOption('--reason <text>', 'why the file must not be sent (recorded in the export)')
    .option('--by <name>', 'who rejects')
    .action(
      action(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseOrThrow(BillingCycleSchema, cycleArg);
        const flags = options(RejectFlags, raw);
        await rejectExport(ctx.client, cycle, { reason: flags.reason, by: flags.by ?? defaultOperator() });
        writers(cmd).out(`Rejected ${workflowIds.export(cycle)}: ${flags.reason}\n`);
      }),
    );

  exportCmd
    .command('report')
    .description('what was sent for a cycle, and which invoices were left out and why')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--json', 'print the report as JSON')
    .option('--limit <n>', 'list at most this many left-out invoices')
    .action(
      action(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseOrThrow(BillingCycleSchema, cycleArg);
        const flags = options(ReportFlags, raw);
        const report = await exportReport(ctx.client, cycle, { maxRejected: flags.limit });
        writers(cmd).out(flags.json ? json(report) : describeReport(report));
      }),
    );

  return exportCmd;
}

function defaultOperator(): string | undefined {
  return process.env.USER || process.env.USERNAME || undefined;
}

// ---------------------------------------------------------------------------
// schedule …

const ScheduleFlags = z
  .object({
    id: z.string().default(EXPORT_SCHEDULE_ID),
    timeZone: z.string().optional(),
    day: int(1, 31).optional(),
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
    .option('--day <n>', `day of the month, 1–31${d(String(DEFAULT_SCHEDULE_CALENDAR.dayOfMonth))}`)
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
      'export the month of the scheduled time plus this many months (e.g. -1)',
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
      dayOfMonth: flags.day ?? current?.calendar?.dayOfMonth,
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
    cycleMonthOffset: flags.cycleOffset ?? current?.input?.cycleMonthOffset ?? 0,
    ...(current?.input?.pageSize !== undefined ? { pageSize: current.input.pageSize } : {}),
  };
}

export function registerScheduleCommands(program: Command, getContext: GetCliContext): Command {
  const schedule = program
    .command('schedule')
    .description('the Temporal Schedule that exports each billing cycle (exactly once per cycle)');

  const show = async (ctx: CliContext, cmd: Command, id: string, asJson?: boolean) => {
    const view = await describeExportSchedule(ctx.client, id);
    writers(cmd).out(asJson ? json(view) : describeSchedule(view));
  };

  withScheduleFlags(schedule.command('create').description('create the export schedule'), true).action(
    action(getContext, async (ctx, cmd, raw: unknown) => {
      const flags = options(ScheduleFlags, raw);
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
      action(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = options(ScheduleFlags, raw);
        const current = await describeExportSchedule(ctx.client, flags.id);
        await createOrUpdateExportSchedule(
          ctx.client,
          scheduleOptions(ctx.taskQueue, flags, current),
          'update',
        );
        await show(ctx, cmd, flags.id, flags.json);
      }),
    );

  const simple = (
    name: string,
    description: string,
    run: (ctx: CliContext, id: string, note?: string) => Promise<void>,
    done: (id: string) => string,
    withNote = false,
  ) => {
    const c = schedule
      .command(name)
      .description(description)
      .option('--id <scheduleId>', 'schedule ID', EXPORT_SCHEDULE_ID)
      .option('--json', 'print the schedule as JSON afterwards');
    if (withNote) c.option('--note <text>', 'why (shown in the Temporal UI)');
    c.action(
      action(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = options(IdFlags, raw);
        await run(ctx, flags.id, flags.note);
        if (name === 'delete') writers(cmd).out(done(flags.id));
        else if (flags.json) await show(ctx, cmd, flags.id, true);
        else writers(cmd).out(done(flags.id));
      }),
    );
  };

  schedule
    .command('describe')
    .description('show the export schedule: calendar, time zone, state, next and recent runs')
    .option('--id <scheduleId>', 'schedule ID', EXPORT_SCHEDULE_ID)
    .option('--json', 'print the schedule as JSON')
    .action(
      action(getContext, async (ctx, cmd, raw: unknown) => {
        const flags = options(IdFlags, raw);
        await show(ctx, cmd, flags.id, flags.json);
      }),
    );
  simple(
    'pause',
    'pause the export schedule',
    (ctx, id, note) => pauseExportSchedule(ctx.client, id, note),
    (id) => `Paused ${id}.\n`,
    true,
  );
  simple(
    'unpause',
    'resume the export schedule',
    (ctx, id, note) => unpauseExportSchedule(ctx.client, id, note),
    (id) => `Unpaused ${id}.\n`,
    true,
  );
  simple(
    'trigger',
    "run the schedule's action now: exports the current month's cycle unless it was already exported",
    (ctx, id) => triggerExportSchedule(ctx.client, id),
    (id) => `Triggered ${id}; see "schedule describe" and "export status <cycle>".\n`,
  );
  simple(
    'delete',
    'delete the export schedule (exports already started are not affected)',
    (ctx, id) => deleteExportSchedule(ctx.client, id),
    (id) => `Deleted ${id}.\n`,
  );

  return schedule;
}
