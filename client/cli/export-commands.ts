/**
 * `imt-ic export …` — start, follow, approve, reject and report billing-cycle exports
 * (the schedule that starts them is schedule-commands.ts, what they print export-render.ts).
 *
 * Every argument is validated with zod before anything is sent to Temporal. Exit codes are
 * the CLI's own (EXIT in context.ts): 0 done · 1 the export failed or an unexpected error ·
 * 2 invalid arguments · 3 no such export / schedule · 4 refused in the current state
 * (running, not awaiting approval, no file yet, schedule exists) or nothing to export: the
 * cycle has no billable invoice yet (EMPTY).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import {
  BillingCycleSchema,
  ExportError,
  emptyCycleMessage,
  exportReport,
  exportStatus,
  startExport,
  type ExportErrorCode,
  type ExportStatusView,
} from '../exports';
import { approveExport, rejectExport } from '../export-decisions';
import { workflowUiUrl } from '../../common/ui';
import { isTimeZone, EXPORT_MAX_PAGE_SIZE, ExportStatus, workflowIds } from '../../domain';
import {
  CliError,
  NotFoundError,
  RefusedError,
  UsageError,
  commandAction,
  parseArgs,
  type CommandContext,
  type GetContext,
} from './context';
import { describeReport, describeStatus, progressBar } from './export-render';
import { StatusLine, commandIo, json } from './format';

/** How each refusal of client/exports.ts ends the command. */
const FAILURE_BY_CODE: Record<ExportErrorCode, new (message: string) => CliError> = {
  INVALID_INPUT: UsageError,
  NOT_FOUND: NotFoundError,
  ALREADY_RUNNING: RefusedError,
  ALREADY_EXISTS: RefusedError,
  NOT_AWAITING_APPROVAL: RefusedError,
  NO_FILE_YET: RefusedError,
  CYCLE_EMPTY: RefusedError,
  EXPORT_FAILED: CliError,
};

/**
 * An export or schedule command's action: it gets the Temporal context first, and an
 * ExportError ends it with the exit code its code stands for.
 */
export function exportAction<A extends unknown[]>(
  getContext: GetContext,
  run: (ctx: CommandContext, cmd: Command, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return commandAction(async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    try {
      await run(await getContext(), cmd, ...(args.slice(0, -1) as A));
    } catch (err) {
      if (err instanceof ExportError) throw new FAILURE_BY_CODE[err.code](err.message);
      throw err;
    }
  });
}

export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export function parseCycle(value: unknown): string {
  const result = BillingCycleSchema.safeParse(value);
  if (!result.success) throw new UsageError(`<cycle>: ${result.error.issues[0].message}`);
  return result.data;
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

export function envDefaults(): z.output<typeof CliEnvSchema> {
  const pick = (name: string) => process.env[name]?.trim() || undefined;
  const result = CliEnvSchema.safeParse({
    EXPORT_APPROVAL_REQUIRED: pick('EXPORT_APPROVAL_REQUIRED'),
    EXPORT_SCHEDULE_TIMEZONE: pick('EXPORT_SCHEDULE_TIMEZONE'),
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UsageError(`${String(issue.path[0])}: ${issue.message}`);
  }
  return result.data;
}

function defaultOperator(): string | undefined {
  return process.env.USER || process.env.USERNAME || undefined;
}

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
  ctx: CommandContext,
  cmd: Command,
  cycle: string,
  intervalMs: number,
): Promise<ExportStatusView> {
  const line = new StatusLine(commandIo(cmd));
  for (;;) {
    const view = await exportStatus(ctx.client, cycle);
    const running = view.execution === 'RUNNING' && view.status !== ExportStatus.AWAITING_APPROVAL;
    if (!running) {
      line.clear();
      return view;
    }
    line.show(progressBar(view));
    await sleep(intervalMs);
  }
}

export function registerExportCommands(program: Command, getContext: GetContext): Command {
  const exportCmd = program
    .command('export')
    .description("billing-cycle exports: IMT's invoices of a cycle → invoice file → Invoice Cloud");
  registerStart(exportCmd, getContext);
  registerStatus(exportCmd, getContext);
  registerDecisions(exportCmd, getContext);
  registerReport(exportCmd, getContext);
  return exportCmd;
}

function registerStart(exportCmd: Command, getContext: GetContext): void {
  exportCmd
    .command('start')
    .description(
      'export a billing cycle: its billable invoices not in a file sent before (the first file, or a follow-up with late invoices)',
    )
    .argument('<cycle>', 'billing cycle, the first day of its month: YYYY-MM-01')
    .option('--approve-required', 'stop after building the file until an operator approves it')
    .option('--no-approve-required', 'upload without approval even when EXPORT_APPROVAL_REQUIRED is set')
    .option('--force', 'send every billable invoice again, also those in files sent before')
    .option('--wait', 'wait for the export to finish, showing progress')
    .option('--page-size <n>', `invoices per IMT listing call (1–${EXPORT_MAX_PAGE_SIZE})`)
    .option('--json', 'print the outcome as JSON')
    .action(
      exportAction(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseCycle(cycleArg);
        const flags = parseArgs(StartFlags, raw);
        const { out } = commandIo(cmd);
        const started = await startExport(ctx.client, ctx.taskQueue, {
          cycle,
          approvalRequired: flags.approveRequired ?? envDefaults().EXPORT_APPROVAL_REQUIRED ?? false,
          force: flags.force ?? false,
          pageSize: flags.pageSize,
          requestedBy: 'cli',
        });
        if (!flags.wait) {
          if (flags.json) return out(json(started));
          const link = workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, started.workflowId);
          return out(
            `Started ${started.workflowId}${started.forced ? ' (forced re-run)' : ''}.\n` +
              `Follow it with: export status ${cycle}\n${link ? `Temporal UI: ${link}\n` : ''}`,
          );
        }
        const view = await follow(ctx, cmd, cycle, 500);
        out(flags.json ? json(view) : describeStatus(view, ctx));
        if (view.execution !== 'RUNNING' && view.execution !== 'COMPLETED') {
          throw new CliError(`export of ${cycle} did not complete: ${view.failure ?? view.status}`);
        }
        if (view.result?.status === ExportStatus.EMPTY)
          throw new RefusedError(emptyCycleMessage(view.result));
      }),
    );
}

function registerStatus(exportCmd: Command, getContext: GetContext): void {
  exportCmd
    .command('status')
    .description('show an export; while it runs, a progress bar on stderr until it ends or awaits approval')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--no-follow', 'print the current status once, without following')
    .option('--json', 'print the status as JSON (implies --no-follow)')
    .option('--interval <ms>', 'refresh interval while following', '1000')
    .action(
      exportAction(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseCycle(cycleArg);
        const flags = parseArgs(StatusFlags, raw);
        const view =
          flags.follow && !flags.json
            ? await follow(ctx, cmd, cycle, flags.interval)
            : await exportStatus(ctx.client, cycle);
        commandIo(cmd).out(flags.json ? json(view) : describeStatus(view, ctx));
      }),
    );
}

/** The approval gate: approve uploads the file, reject sends nothing. */
function registerDecisions(exportCmd: Command, getContext: GetContext): void {
  exportCmd
    .command('approve')
    .description('approve an export waiting at the approval gate: its file is uploaded to IC')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--by <name>', 'who approves (recorded in the export)')
    .option('--note <text>', 'a note recorded with the approval')
    .action(
      exportAction(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseCycle(cycleArg);
        const flags = parseArgs(ApproveFlags, raw);
        const file = await approveExport(ctx.client, cycle, {
          by: flags.by ?? defaultOperator(),
          note: flags.note,
        });
        commandIo(cmd).out(
          `Approved ${workflowIds.export(cycle)}${file ? `: uploading ${file.fileName}` : ''}.\n`,
        );
      }),
    );

  // Alike in shape to approve on purpose: each is a commander declaration with its own options and call.
  exportCmd
    .command('reject')
    .description(
      'reject an export waiting at the approval gate: nothing is sent; the cycle may be started again',
    )
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .requiredOption('--reason <text>', 'why the file must not be sent (recorded in the export)')
    .option('--by <name>', 'who rejects')
    .action(
      exportAction(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseCycle(cycleArg);
        const flags = parseArgs(RejectFlags, raw);
        await rejectExport(ctx.client, cycle, { reason: flags.reason, by: flags.by ?? defaultOperator() });
        commandIo(cmd).out(`Rejected ${workflowIds.export(cycle)}: ${flags.reason}\n`);
      }),
    );
}

function registerReport(exportCmd: Command, getContext: GetContext): void {
  exportCmd
    .command('report')
    .description('every file sent for a cycle (rows, totals), and which invoices were left out and why')
    .argument('<cycle>', 'billing cycle YYYY-MM-01')
    .option('--json', 'print the report as JSON')
    .option('--limit <n>', 'list at most this many left-out invoices')
    .action(
      exportAction(getContext, async (ctx, cmd, cycleArg: string, raw: unknown) => {
        const cycle = parseCycle(cycleArg);
        const flags = parseArgs(ReportFlags, raw);
        const report = await exportReport(ctx.client, cycle, { maxRejected: flags.limit });
        commandIo(cmd).out(flags.json ? json(report) : describeReport(report));
      }),
    );
}
