/**
 * `imt-ic balances refresh --cycle C`: compares IMT's and IC's balance of every invoice of a
 * cycle, sends those that differ to IC in one file, verifies them and prints what changed.
 * Exit 0 when IC agrees with IMT at the end, 1 when some invoices still differ or the run
 * failed, 2 a bad --cycle or --rate, 4 when a refresh of the cycle is already running.
 */
import type { Command } from 'commander';
import {
  RefreshAlreadyRunningError,
  RefreshOptionsSchema,
  balanceRefreshProgress,
  balanceRefreshResult,
  startBalanceRefresh,
} from '../balances';
import { BalanceRefreshStatus, type BalanceRefreshResult } from '../../domain';
import {
  CliError,
  RefusedError,
  UsageError,
  commandAction,
  type CommandContext,
  type GetContext,
} from './context';
import { commandIo } from './format';

const PROGRESS_EVERY_MS = 2000;

export function formatRefreshResult(r: BalanceRefreshResult): string {
  const c = r.comparison;
  const lines = [
    `Balance refresh of ${r.cycle}: ${r.status}`,
    `  Compared:  ${c.compared} invoices; ${c.differing} differed (${c.notInIc} unknown to IC, ${c.unsendable} not sendable)`,
  ];
  if (r.upload && c.file) lines.push(`  Sent:      ${c.file.invoiceCount} invoices in ${c.file.fileName}`);
  if (r.verification)
    lines.push(
      `  Verified:  ${r.verification.verified} shown by IC; ${r.verification.stillDifferent} still different`,
    );
  if (c.sample.length > 0) {
    lines.push('', `  ${'INVOICE'.padEnd(16)}${'IMT BALANCE'.padStart(14)}${'IC BEFORE'.padStart(14)}`);
    for (const d of c.sample)
      lines.push(
        `  ${d.invoice_number.padEnd(16)}${d.imt.balanceDue.padStart(14)}${(d.ic?.balanceDue ?? '(none)').padStart(14)}`,
      );
    if (c.differing > c.sample.length)
      lines.push(`  … ${c.differing - c.sample.length} more in ${c.differencesPath}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerBalanceCommands(program: Command, getContext: GetContext): void {
  const balances = program.command('balances').description("Compare and refresh IC's invoice balances");
  balances
    .command('refresh')
    .description('compare every invoice of a cycle with IC, send those that differ, verify them')
    .requiredOption('--cycle <YYYY-MM-01>', 'billing cycle')
    .option('--rate <n>', 'calls per second to each of IMT and IC (default 10)')
    .option('--no-wait', 'start it and return')
    .action(
      commandAction(async (opts: { cycle: string; rate?: string; wait: boolean }, cmd: Command) => {
        const parsed = RefreshOptionsSchema.safeParse({ cycle: opts.cycle, ratePerSecond: opts.rate });
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const flag = issue?.path[0] === 'ratePerSecond' ? '--rate' : '--cycle';
          throw new UsageError(`${flag} ${issue?.message ?? 'is invalid'}`);
        }
        const ctx = await getContext();
        const { out } = commandIo(cmd);
        const handle = await startBalanceRefresh(ctx.client, ctx.taskQueue, {
          ...parsed.data,
          requestedBy: 'cli',
        }).catch((err: unknown) => {
          throw err instanceof RefreshAlreadyRunningError ? new RefusedError(err.message) : err;
        });
        out(`started ${handle.workflowId}\n`);
        if (!opts.wait) return;
        const result = await waitForRefresh(ctx, parsed.data.cycle, out);
        out(formatRefreshResult(result));
        if (result.status !== BalanceRefreshStatus.DONE)
          throw new CliError('some invoices still differ in IC (alerted)');
      }),
    );
}

/** The refresh's result, with a progress line every PROGRESS_EVERY_MS while it runs. */
async function waitForRefresh(
  ctx: CommandContext,
  cycle: string,
  out: (text: string) => void,
): Promise<BalanceRefreshResult> {
  const done = balanceRefreshResult(ctx.client, cycle);
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, PROGRESS_EVERY_MS))]);
    if (finished) break;
    const p = await balanceRefreshProgress(ctx.client, cycle).catch(() => undefined);
    if (p)
      out(
        `  ${p.status}${p.compared !== undefined ? ` ${p.compared}/${p.total ?? '?'} compared, ${p.differing ?? 0} differ` : ''}\n`,
      );
  }
  return done;
}
