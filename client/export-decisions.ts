/**
 * An operator's decision on a running export — approve or reject at the approval gate, or on
 * IC's count mismatch — sent as the run's Update: refused without history when no decision is
 * awaited (ExportError NOT_AWAITING_APPROVAL), answered once the run took it.
 */
import { withUpdateRetry } from '../common/update-retry';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import {
  ExportStatus,
  approveExportUpdate,
  rejectExportUpdate,
  type ExportFileRef,
  type ExportSummary,
} from '../domain';
import {
  BillingCycleSchema,
  ExportError,
  exportStatus,
  handleOf,
  parseOrThrow,
  type ExportHandle,
} from './exports';

async function runningSummary(
  client: Client,
  cycle: string,
): Promise<{ handle: ExportHandle; summary: ExportSummary }> {
  const status = await exportStatus(client, cycle);
  if (status.execution === 'RUNNING' && !status.summary) {
    throw new Error(
      `no worker answered for export ${cycle}: is the worker running? (status ${status.status ?? 'unknown'})`,
    );
  }
  if (status.execution !== 'RUNNING' || !status.summary) {
    throw new ExportError(
      'NOT_AWAITING_APPROVAL',
      `export of ${cycle} is not awaiting approval: it has ended (${status.status ?? status.execution})`,
    );
  }
  if (
    status.summary.status !== ExportStatus.AWAITING_APPROVAL &&
    // An IC InvoiceCount mismatch waits for the same two signals (accept / fail).
    status.summary.status !== ExportStatus.NEEDS_ATTENTION
  ) {
    throw new ExportError(
      'NOT_AWAITING_APPROVAL',
      status.summary.approvalRequired
        ? `export of ${cycle} is ${status.summary.status}, not awaiting approval yet`
        : `export of ${cycle} was started without the approval gate (${status.summary.status})`,
    );
  }
  return { handle: handleOf(client, status.cycle), summary: status.summary };
}

const ApproveSchema = z.object({
  by: z.string().trim().min(1).max(200).optional(),
  note: z.string().max(2000).optional(),
});
const RejectSchema = z.object({
  reason: z.string().trim().min(1, 'a reason is required').max(2000),
  by: z.string().trim().min(1).max(200).optional(),
});

/** Lets an export waiting at the approval gate go on to upload its file. */
export async function approveExport(
  client: Client,
  cycle: string,
  input: z.input<typeof ApproveSchema> = {},
): Promise<ExportFileRef | undefined> {
  const args = parseOrThrow(ApproveSchema, input);
  const { handle, summary } = await runningSummary(client, parseOrThrow(BillingCycleSchema, cycle));
  await decided(cycle, () => handle.executeUpdate(approveExportUpdate, { args: [args] }));
  return summary.file;
}

/** Stops an export at the approval gate; nothing is sent to IC. The cycle may be started again. */
export async function rejectExport(
  client: Client,
  cycle: string,
  input: z.input<typeof RejectSchema>,
): Promise<void> {
  const args = parseOrThrow(RejectSchema, input);
  const { handle } = await runningSummary(client, parseOrThrow(BillingCycleSchema, cycle));
  await decided(cycle, () => handle.executeUpdate(rejectExportUpdate, { args: [args] }));
}

/** The run's validator refused the decision (it moved on meanwhile): say so, as the pre-check does. */
async function decided(cycle: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await withUpdateRetry(send);
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    const why = err.cause instanceof Error ? err.cause.message : err.message;
    throw new ExportError('NOT_AWAITING_APPROVAL', `export of ${cycle}: ${why}`);
  }
}
