/**
 * `imt-ic reconcile` — the daily reconciliation of IC and IMT (issue 12).
 *
 *   imt-ic reconcile --date 2022-10-03          run a fresh comparison of that day, wait, print
 *   imt-ic reconcile --from D1 --to D2          the same for each day of a range
 *   imt-ic reconcile show 2022-10-03            the latest finished comparison of that day
 *   imt-ic reconcile schedule create|describe|delete
 *
 * Like `diff`: exit 0 when the sides agree, 1 when they differ (one row per difference,
 * naming the transaction_id); 2 usage error; 3 (show) no finished reconciliation of that day.
 * The day is read in the biller's time zone: --time-zone, else BILLER_TIME_ZONE (common/config.ts's default).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { CONFIG_DEFAULTS } from '../../common/config';
import {
  MAX_RECONCILE_RANGE_DAYS,
  ReconcileDateSchema,
  TimeZoneSchema,
  createOrUpdateReconcileSchedule,
  datesBetween,
  deleteReconcileSchedule,
  describeReconcileSchedule,
  latestReconciliation,
  readReconcileReport,
  runReconciliation,
  sortRows,
} from '../reconcile';
import { taskQueuesOf, type ReconcileRow, type ReconcileSummary } from '../../domain';
import type { ReconcileLiveProgress } from '../reconcile';
import {
  CliError,
  NotFoundError,
  UsageError,
  commandAction,
  parseArgs,
  type ContextProvider,
} from './context';
import { StatusLine, json, renderFields, renderTable, type CliIo } from './format';

const money = (cents: number | null): string => {
  if (cents === null) return '';
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
};

const COLUMNS = [
  { header: 'KIND', value: (r: ReconcileRow) => r.kind },
  { header: 'TRANSACTION_ID', value: (r: ReconcileRow) => r.transaction_id },
  {
    header: 'INVOICE (SERVICE / IMT)',
    value: (r: ReconcileRow) => {
      const [ours, theirs] = [r.service_invoice_number, r.imt_invoice_number];
      return ours === null || theirs === null || ours === theirs
        ? (ours ?? theirs ?? '')
        : `${ours} / ${theirs}`;
    },
  },
  { header: 'SERVICE', value: (r: ReconcileRow) => money(r.service_amount_cents), align: 'right' as const },
  { header: 'IMT', value: (r: ReconcileRow) => money(r.imt_amount_cents), align: 'right' as const },
  {
    header: 'STATUS (SERVICE / IMT)',
    value: (r: ReconcileRow) => `${r.service_status ?? '-'} / ${r.imt_status ?? '-'}`,
  },
  { header: 'DETAIL', value: (r: ReconcileRow) => r.detail, maxWidth: 90 },
];

/** Rows from the report file when this machine can read it, else the summary's sample. */
function rowsOf(summary: ReconcileSummary): { rows: ReconcileRow[]; complete: boolean } {
  if (fs.existsSync(summary.reportPath))
    return { rows: sortRows(readReconcileReport(summary.reportPath).rows), complete: true };
  return { rows: summary.sample, complete: false };
}

const count = (n: number) => n.toLocaleString('en-US');

/** `reconciling 2022-10-03: IMT's payments, page 12 of 100 (100,000) · 100,000 service runs listed`. */
export function reconcileProgressLine(day: string, p: ReconcileLiveProgress): string {
  const retry = p.attempt ? ` · attempt ${p.attempt}${p.lastFailure ? `: ${p.lastFailure}` : ''}` : '';
  const runs = `${count(p.serviceRunsListed)} service runs listed`;
  const imt =
    p.imtCount === null
      ? `page ${p.imtPages}`
      : `page ${p.imtPages} (IMT lists ${count(p.imtCount)} payments)`;
  const phase = {
    'listing-service': `listing the service's runs · ${runs}`,
    'listing-imt': `reading IMT's payments, ${imt} · ${runs}`,
    comparing: `comparing both sides by transaction ID · ${runs}`,
    writing: 'writing the report',
  }[p.phase];
  return `reconciling ${day}: ${phase}${retry}`;
}

function renderDay(summary: ReconcileSummary): string {
  const { rows, complete } = rowsOf(summary);
  const verdict =
    summary.differences === 0
      ? `${summary.date}: IC and IMT agree (${summary.transactions} transactions${summary.inFlight ? `, ${summary.inFlight} still in flight` : ''})`
      : `${summary.date}: ${summary.differences} difference${summary.differences === 1 ? '' : 's'} (${summary.transactions} transactions${summary.inFlight ? `, ${summary.inFlight} still in flight` : ''})`;
  const totals = renderTable(
    [
      { header: '', value: (r: [string, ReconcileSummary['service']]) => r[0] },
      { header: 'DELIVERED', value: (r) => money(r[1].deliveredCents), align: 'right' },
      { header: 'POSTED', value: (r) => money(r[1].postedCents), align: 'right' },
      { header: 'REVERSED', value: (r) => money(r[1].reversedCents), align: 'right' },
      { header: 'NET', value: (r) => money(r[1].netCents), align: 'right' },
    ],
    [
      ['service', summary.service],
      ['IMT', summary.imt],
    ],
  );
  return [
    `${verdict}\n`,
    rows.length ? renderTable(COLUMNS, rows) : '',
    complete ? '' : `(first ${rows.length} rows only: the report is on the worker, ${summary.reportPath})\n`,
    totals,
    renderFields([
      ['Report', summary.reportPath],
      ['Run', summary.workflowId],
    ]),
  ]
    .filter((s) => s !== '')
    .join('\n');
}

/** --time-zone, else BILLER_TIME_ZONE, else the service's default. */
function timeZoneOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const value = flag ?? blank(env.BILLER_TIME_ZONE) ?? CONFIG_DEFAULTS.billerTimeZone;
  const r = TimeZoneSchema.safeParse(value);
  if (!r.success) throw new UsageError(`--time-zone / BILLER_TIME_ZONE: ${r.error.issues[0].message}`);
  return r.data;
}

export function registerReconcileCommands(program: Command, io: CliIo, provider: ContextProvider): void {
  const reconcile = program
    .command('reconcile')
    .description('compare what IC delivered with what IMT holds, per transaction, for biller days')
    .option('--date <YYYY-MM-DD>', 'the day to reconcile')
    .option('--from <YYYY-MM-DD>', 'first day of a range (with --to)')
    .option('--to <YYYY-MM-DD>', 'last day of a range, inclusive')
    .option(
      '--time-zone <zone>',
      `the biller’s time zone (default $BILLER_TIME_ZONE or ${CONFIG_DEFAULTS.billerTimeZone})`,
    )
    .option('--page-size <n>', 'IMT listing page size, 1–1000')
    .option('--json', 'print the summaries as JSON')
    .addHelpText(
      'after',
      `
Runs a fresh reconciliation of each day (its own workflow, reconcile-<date>-manual-<time>; the
scheduled reconcile-<date> stays one per date), waits for it and prints one row per difference.
Exit codes: 0 the sides agree, 1 they differ (or the run failed), 2 usage error.

Examples:
  imt-ic reconcile --date 2022-10-03
  imt-ic reconcile --from 2022-10-01 --to 2022-10-07
  imt-ic reconcile show 2022-10-03
  imt-ic reconcile schedule create --hour 4`,
    )
    .action(commandAction(async (raw: Record<string, unknown>) => runDays(io, provider, raw)));
  registerShow(reconcile, io, provider);
  registerSchedule(reconcile, io, provider);
}

/** `reconcile --date D` or `--from D1 --to D2`: a fresh comparison of each day, waited for. */
async function runDays(io: CliIo, provider: ContextProvider, raw: Record<string, unknown>): Promise<void> {
  const opts = parseArgs(
    z
      .object({
        date: ReconcileDateSchema.optional(),
        from: ReconcileDateSchema.optional(),
        to: ReconcileDateSchema.optional(),
        timeZone: z.string().optional(),
        pageSize: z.coerce.number().int().min(1).max(1000).optional(),
        json: z.boolean().optional(),
      })
      .refine((o) => (o.date !== undefined) !== (o.from !== undefined || o.to !== undefined), {
        message: 'give either --date D or --from D1 --to D2',
        path: ['date'],
      })
      .refine((o) => (o.from === undefined) === (o.to === undefined), {
        message: '--from and --to go together',
        path: ['from'],
      })
      .refine((o) => o.from === undefined || o.to === undefined || o.from <= o.to, {
        message: '--from must not be after --to',
        path: ['from'],
      }),
    raw,
  );
  const dates = opts.date ? [opts.date] : datesBetween(opts.from!, opts.to!);
  if (dates.length > MAX_RECONCILE_RANGE_DAYS)
    throw new UsageError(`--from/--to: at most ${MAX_RECONCILE_RANGE_DAYS} days at a time`);
  const timeZone = timeZoneOf(opts.timeZone, io.env);
  const ctx = await provider.get();
  const summaries: ReconcileSummary[] = [];
  // On a terminal, like `export start --wait`: one line on stderr redrawn while the day runs.
  const line = io.isTTY ? new StatusLine(io) : undefined;
  for (const [i, date] of dates.entries()) {
    const day = dates.length > 1 ? `${date} (${i + 1}/${dates.length})` : date;
    const summary = await runReconciliation(
      { client: ctx.client, taskQueue: ctx.taskQueue, timeZone },
      date,
      { pageSize: opts.pageSize, onProgress: line && ((p) => line.show(reconcileProgressLine(day, p))) },
    );
    line?.clear();
    summaries.push(summary);
    if (!opts.json) io.out(`${renderDay(summary)}\n`);
  }
  if (opts.json) io.out(json(summaries.length === 1 ? summaries[0] : summaries));
  const differing = summaries.filter((s) => s.differences > 0);
  if (differing.length)
    throw new CliError(
      `IC and IMT differ: ${differing.map((s) => `${s.date} (${s.differences})`).join(', ')}`,
    );
}

function registerShow(reconcile: Command, io: CliIo, provider: ContextProvider): void {
  reconcile
    .command('show <date>')
    .description('the latest finished reconciliation of a day, with its differences')
    .option('--json', 'print the summary and rows as JSON')
    .action(
      commandAction(async (rawDate: string, raw: { json?: boolean }) => {
        const date = parseArgs(ReconcileDateSchema, rawDate);
        const ctx = await provider.get();
        const summary = await latestReconciliation(ctx.client, ctx.taskQueue, date);
        if (!summary)
          throw new NotFoundError(
            `no finished reconciliation of ${date} on task queue ${taskQueuesOf(ctx.taskQueue).bulk}: run "imt-ic reconcile --date ${date}"`,
          );
        if (raw.json) io.out(json({ ...summary, rows: rowsOf(summary).rows }));
        else io.out(`${renderDay(summary)}\n`);
        if (summary.differences > 0)
          throw new CliError(`IC and IMT differ for ${date}: ${summary.differences} difference(s)`);
      }),
    );
}

function registerSchedule(reconcile: Command, io: CliIo, provider: ContextProvider): void {
  const schedule = reconcile
    .command('schedule')
    .description('the Temporal Schedule that reconciles the previous day, every day');
  schedule
    .command('create')
    .description('create (or update) the daily schedule, in the biller’s time zone')
    .option('--hour <h>', 'hour of the day (0–23)', '4')
    .option('--minute <m>', 'minute (0–59)', '0')
    .option(
      '--time-zone <zone>',
      `the biller’s time zone (default $BILLER_TIME_ZONE or ${CONFIG_DEFAULTS.billerTimeZone})`,
    )
    .option('--paused', 'create it paused')
    .action(
      commandAction(async (raw: Record<string, unknown>) => {
        const o = parseArgs(
          z.object({
            hour: z.coerce.number().int().min(0).max(23),
            minute: z.coerce.number().int().min(0).max(59),
            timeZone: z.string().optional(),
            paused: z.boolean().optional(),
          }),
          raw,
        );
        const ctx = await provider.get();
        const out = await createOrUpdateReconcileSchedule(ctx.client, {
          taskQueue: ctx.taskQueue,
          timeZone: timeZoneOf(o.timeZone, io.env),
          hour: o.hour,
          minute: o.minute,
          paused: o.paused ?? false,
        });
        io.out(`${out.created ? 'created' : 'updated'} schedule ${out.scheduleId}\n`);
      }),
    );
  schedule
    .command('describe')
    .description('show the schedule, its next firings and recent runs')
    .action(
      commandAction(async () => {
        const ctx = await provider.get();
        const view = await describeReconcileSchedule(ctx.client);
        if (!view)
          throw new NotFoundError(
            'no reconciliation schedule: create it with "imt-ic reconcile schedule create"',
          );
        io.out(json(view));
      }),
    );
  // Alike in shape to describe on purpose: two short commander declarations, each with its own call.
  schedule
    .command('delete')
    .description('delete the schedule (past reconciliations stay)')
    .action(
      commandAction(async () => {
        const ctx = await provider.get();
        if (!(await deleteReconcileSchedule(ctx.client)))
          throw new NotFoundError('no reconciliation schedule');
        io.out('deleted\n');
      }),
    );
}
