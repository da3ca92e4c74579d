/**
 * What the export and schedule commands print: an export's status and progress, its report
 * (what was sent, what was left out and why) and the export schedule.
 */
import { emptyCycleMessage, upToDateMessage, type ExportReport, type ExportStatusView } from '../exports';
import type { ExportScheduleView } from '../schedule';
import { workflowUiUrl } from '../../common/ui';
import { ExportStatus } from '../../domain';
import type { CommandContext } from './context';

const n = (value: number) => value.toLocaleString('en-US');

/** `[####----]  40% 240/600 invoices · page 8/20 · BUILDING_FILE`, or the phase when the total is unknown. */
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

export function describeStatus(view: ExportStatusView, ctx: CommandContext): string {
  const lines = [`Export ${view.cycle} (${view.workflowId}): ${view.status ?? view.execution}`];
  const file = view.result ?? view.summary?.file;
  if (file) {
    lines.push(`  File:      ${file.fileName} (${n(file.bytes)} bytes, sha256 ${file.sha256.slice(0, 16)}…)`);
    lines.push(
      `  Invoices:  ${n(file.invoiceCount)} totalling ${file.totalAmount}; ${n(file.rejectedCount)} left out` +
        (file.rejectedCount > 0 ? ` (export report ${view.cycle})` : ''),
    );
  }
  if (view.result?.uploadedAt !== undefined)
    lines.push(
      `  IC:        ${n(view.result.icInvoiceCount ?? 0)} invoices, uploaded ${view.result.uploadedAt}` +
        (view.result.followUp ? ` (follow-up: ${view.result.filesSentBefore} file(s) sent before)` : ''),
    );
  if (view.result?.status === ExportStatus.EMPTY)
    lines.push(`  Nothing sent: ${emptyCycleMessage(view.result)}`);
  if (view.result?.status === ExportStatus.UP_TO_DATE)
    lines.push(`  Nothing sent: ${upToDateMessage(view.result)}`);
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
  const link = workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, view.workflowId);
  if (link) lines.push(`  Temporal:  ${link}`);
  return `${lines.join('\n')}\n`;
}

/** The files sent for the cycle, one line each, and their sums. */
function describeFilesSent(report: ExportReport): string[] {
  if (report.files.length === 0) return ['Files sent: none (the cycle is not exported)'];
  const lines = [`Files sent: ${report.files.length}`];
  const width = Math.max(...report.files.map((f) => f.fileName.length));
  for (const f of report.files) {
    lines.push(
      `  ${f.fileName.padEnd(width)}  ${n(f.invoiceCount).padStart(7)} rows  ${f.totalAmount.padStart(12)}  ${f.uploadedAt ?? '-'}${f.followUp ? '  follow-up' : ''}`,
    );
  }
  lines.push(
    `  ${'total'.padEnd(width)}  ${n(report.filesTotal.invoiceCount).padStart(7)} rows  ${report.filesTotal.totalAmount.padStart(12)}`,
    '',
  );
  return lines;
}

export function describeReport(report: ExportReport): string {
  const f = report.file;
  const lines = [
    ...describeFilesSent(report),
    `Latest run of ${report.cycle}: ${report.status ?? report.execution}`,
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

export function describeSchedule(view: ExportScheduleView): string {
  const c = view.calendar;
  const when = c
    ? `every day at ${String(c.hour).padStart(2, '0')}:${String(c.minute).padStart(2, '0')} ${view.timeZone}`
    : `(no calendar) ${view.timeZone}`;
  const lines = [
    `Schedule ${view.scheduleId}: ${view.paused ? 'PAUSED' : 'active'}${view.note ? ` (${view.note})` : ''}`,
    `  When:       ${when}`,
    `  Exports:    the cycle of the scheduled month${view.input?.cycleMonthOffset ? ` ${view.input.cycleMonthOffset > 0 ? '+' : ''}${view.input.cycleMonthOffset} month(s)` : ''}: its file once IMT has its billable invoices, then late ones${view.input?.approvalRequired ? ', approval required' : ''}`,
    `  Empty:      alert once when still empty on day ${view.input?.emptyAlertDay ?? '-'} or later`,
    `  Catch-up:   ${view.catchupWindowMs !== undefined ? `${Math.round(view.catchupWindowMs / 3_600_000)} h` : 'default'} · overlap ${view.overlap}`,
    `  Task queue: ${view.taskQueue ?? '-'}`,
    `  Next:       ${view.nextActionTimes.slice(0, 3).join(', ') || '-'}`,
  ];
  for (const a of view.recentActions.slice(-5))
    lines.push(`  Ran:        ${a.scheduledAt} → ${a.workflowId}`);
  return `${lines.join('\n')}\n`;
}
