/**
 * Operator functions for billing-cycle exports, shared by the CLI (client/cli/export-commands.ts),
 * tests and anything else that drives exports. Plain functions over a Temporal `Client`.
 *
 * Start policy: the workflow ID is `export-<cycle>`. A run still in progress is never
 * replaced (conflict policy FAIL), forced or not: two concurrent runs of one cycle are
 * exactly what the ID is there to prevent. A closed run never blocks the next
 * (ALLOW_DUPLICATE): every run leaves out the invoices of the files IC already accepted for
 * the cycle (its ledger, workflows/export-billing-cycle.ts), so starting an exported cycle
 * again sends only late invoices (a follow-up file) or nothing (UP_TO_DATE), and an EMPTY
 * cycle is simply started again. `force` sends every billable invoice again.
 */
import { readFile } from 'node:fs/promises';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  TemporalFailure,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';
import { z } from 'zod';
import { ExtractCursorSchema } from '../activities/export';
import {
  exportStaticSummary,
  taskQueuesOf,
  isBillingCycle,
  EXPORT_MAX_PAGE_SIZE,
  ExportStatus,
  SA,
  workflowIds,
  type ExportFileRef,
  type ExportProgress,
  type ExportRejection,
  type ExportResult,
  type ExportSummary,
  type UploadOutcome,
  fromCents,
  toCents,
  exportProgressQuery,
  exportSummaryQuery,
} from '../domain';
import type { exportBillingCycleWorkflow } from '../workflows/export-billing-cycle';
import { heartbeatDetailsOf, type PendingActivityLike } from './heartbeat';
import { decodedFailureMessage } from '../common/data-protection';

export type ExportErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'ALREADY_RUNNING'
  | 'ALREADY_EXISTS'
  | 'NOT_AWAITING_APPROVAL'
  | 'NO_FILE_YET'
  | 'CYCLE_EMPTY'
  | 'EXPORT_FAILED';

/** An operator-facing refusal or failure; `message` is meant to be shown as is. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(
    readonly code: ExportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const BillingCycleSchema = z.string().trim().refine(isBillingCycle, {
  message: 'a billing cycle is the first day of its month, YYYY-MM-01 (e.g. 2022-09-01)',
});

const StartExportSchema = z
  .object({
    cycle: BillingCycleSchema,
    approvalRequired: z.boolean().default(false),
    force: z.boolean().default(false),
    wait: z.boolean().default(false),
    pageSize: z.number().int().min(1).max(EXPORT_MAX_PAGE_SIZE).optional(),
    requestedBy: z.string().min(1).max(200).optional(),
  })
  .strict();
export type StartExportOptions = z.input<typeof StartExportSchema>;

/** Parses with zod and turns problems into one INVALID_INPUT error naming each field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
  throw new ExportError('INVALID_INPUT', problems);
}

export interface StartExportOutcome {
  workflowId: string;
  runId: string;
  forced: boolean;
  /** With `wait`: the result of the run. */
  result?: ExportResult;
}

export type ExportHandle = WorkflowHandle<typeof exportBillingCycleWorkflow>;

/** How long a status or report waits for a worker to answer a query. */
const QUERY_DEADLINE_MS = 5000;

export function handleOf(client: Client, cycle: string): ExportHandle {
  return client.workflow.getHandle<typeof exportBillingCycleWorkflow>(workflowIds.export(cycle));
}

/** `serviceQueue`: TEMPORAL_TASK_QUEUE; the export runs on its bulk pool (domain/task-queues.ts). */
export async function startExport(
  client: Client,
  serviceQueue: string,
  options: StartExportOptions,
): Promise<StartExportOutcome> {
  const opts = parseOrThrow(StartExportSchema, options);
  const workflowId = workflowIds.export(opts.cycle);
  let handle: WorkflowHandleWithFirstExecutionRunId<typeof exportBillingCycleWorkflow>;
  try {
    handle = await client.workflow.start<typeof exportBillingCycleWorkflow>('exportBillingCycleWorkflow', {
      workflowId,
      taskQueue: taskQueuesOf(serviceQueue).bulk,
      args: [
        {
          cycle: opts.cycle,
          approvalRequired: opts.approvalRequired,
          force: opts.force,
          pageSize: opts.pageSize,
          requestedBy: opts.requestedBy,
        },
      ],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      staticSummary: exportStaticSummary(opts.cycle, opts.requestedBy, opts.force),
      // Set at start too, so the run is findable by cycle before its first task runs.
      typedSearchAttributes: [
        { key: SA.BillingCycle, value: opts.cycle },
        { key: SA.ExportStatus, value: ExportStatus.EXTRACTING },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw await refusal(client, opts.cycle, opts.force);
    throw err;
  }
  const outcome: StartExportOutcome = { workflowId, runId: handle.firstExecutionRunId, forced: opts.force };
  if (!opts.wait) return outcome;
  const result = await resultOrThrow(handle, opts.cycle);
  if (result.status === ExportStatus.EMPTY) throw new ExportError('CYCLE_EMPTY', emptyCycleMessage(result));
  return { ...outcome, result };
}

/** What an operator reads when a run found no billable invoice (CLI: exits non-zero with it). */
export function emptyCycleMessage(
  result: Pick<ExportResult, 'cycle' | 'notBillableCount' | 'rejectedCount'>,
): string {
  return (
    `billing cycle ${result.cycle} has no billable invoice yet (${result.notBillableCount} drafts or not sent by IMT, ` +
    `${result.rejectedCount - result.notBillableCount} with invalid data): nothing was uploaded and the cycle is not exported. ` +
    `Start it again once IMT has finalised and sent its invoices (the daily schedule does); see "export report ${result.cycle}".`
  );
}

/** What an operator reads when a run had nothing new to send. */
export function upToDateMessage(
  result: Pick<ExportResult, 'cycle' | 'filesSentBefore' | 'alreadySentCount'>,
): string {
  return (
    `billing cycle ${result.cycle} is up to date: its ${result.alreadySentCount} billable invoices are in the ` +
    `${result.filesSentBefore} file(s) sent before; nothing new was uploaded (--force sends every invoice again).`
  );
}

/** Why a start was refused, in the operator's terms: only a run still open refuses another. */
async function refusal(client: Client, cycle: string, forced: boolean): Promise<ExportError> {
  const status = await exportStatus(client, cycle).catch(() => undefined);
  return new ExportError(
    'ALREADY_RUNNING',
    `an export of ${cycle} is in progress (${status?.status ?? 'status unknown'}): wait for it, or cancel it in the Temporal UI first${forced ? ' (--force does not replace a running export)' : ''}`,
  );
}

async function resultOrThrow(handle: ExportHandle, cycle: string): Promise<ExportResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new ExportError('EXPORT_FAILED', `export of ${cycle} failed: ${failureMessage(err)}`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** The most specific message of a failure chain, e.g. `FileRejected: IC refused …`. */
export function failureMessage(err: unknown): string {
  let deepest: { type?: string; message: string } | undefined;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) deepest = { type: e.type ?? undefined, message: e.message };
    else if (
      e instanceof TemporalFailure &&
      !(e instanceof ActivityFailure) &&
      !(e instanceof WorkflowFailedError)
    ) {
      deepest = { type: e.name, message: e.message };
    }
    if (!deepest && !(e instanceof WorkflowFailedError) && !(e instanceof ActivityFailure)) {
      deepest = { message: e.message };
    }
  }
  if (!deepest) return err instanceof Error ? err.message : String(err);
  return deepest.type ? `${deepest.type}: ${deepest.message}` : deepest.message;
}

export type ExecutionStatusName =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'CONTINUED_AS_NEW'
  | 'TIMED_OUT'
  | 'PAUSED'
  | 'UNKNOWN'
  | 'UNSPECIFIED';

export interface ExportStatusView {
  cycle: string;
  workflowId: string;
  runId: string;
  /** Temporal's view of the run. */
  execution: ExecutionStatusName;
  /** The export's own status (search attribute `ExportStatus`). */
  status?: ExportStatus;
  startedAt: string;
  closedAt?: string;
  /** While running: the workflow's progress plus the extraction's live heartbeat. */
  progress?: ExportProgress;
  summary?: ExportSummary;
  result?: ExportResult;
  /** For a run that did not complete: why. */
  failure?: string;
}

export async function exportStatus(client: Client, cycleInput: string): Promise<ExportStatusView> {
  const cycle = parseOrThrow(BillingCycleSchema, cycleInput);
  const handle = handleOf(client, cycle);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new ExportError(
        'NOT_FOUND',
        `billing cycle ${cycle} has not been exported (no workflow ${handle.workflowId})`,
      );
    }
    throw err;
  }
  const view: ExportStatusView = {
    cycle,
    workflowId: desc.workflowId,
    runId: desc.runId,
    execution: desc.status.name,
    status: desc.typedSearchAttributes.get(SA.ExportStatus) as ExportStatus | undefined,
    startedAt: desc.startTime.toISOString(),
    closedAt: desc.closeTime?.toISOString(),
  };
  if (desc.status.name === 'RUNNING') {
    const live = await liveActivityProgress(client, desc.raw.pendingActivities ?? []);
    try {
      // A query needs a worker; when none answers (which is when operators look), the
      // search attribute and the activity's heartbeat still tell the story.
      const [progress, summary] = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
        Promise.all([handle.query(exportProgressQuery), handle.query(exportSummaryQuery)]),
      );
      view.summary = summary;
      view.status = summary.status;
      view.progress = { ...progress, ...live };
    } catch {
      const phase = view.status ?? ExportStatus.EXTRACTING;
      view.progress = { phase, pagesDone: 0, invoicesRead: 0, ...live };
    }
  } else if (desc.status.name === 'COMPLETED') {
    view.result = await handle.result();
  } else {
    view.failure = await handle.result().then(
      () => undefined,
      (err: unknown) => failureMessage(err),
    );
  }
  return view;
}

/**
 * What the running activity adds to the workflow's own progress: the extraction's
 * cursor from its last heartbeat, and for any activity that is retrying, its attempt and
 * the last failure (e.g. "IC answered 503").
 */
async function liveActivityProgress(
  client: Client,
  pending: readonly PendingActivityLike[],
): Promise<Partial<ExportProgress>> {
  const out: Partial<ExportProgress> = {};
  for (const activity of pending) {
    if ((activity.attempt ?? 1) > 1) {
      out.attempt = activity.attempt ?? undefined;
      // Failures are encrypted like payloads (common/failure-converter.ts): decode the message.
      const message = await decodedFailureMessage(
        client.options.loadedDataConverter,
        activity.lastFailure,
      ).catch(() => undefined);
      if (message) out.lastFailure = message;
    }
    if (activity.activityType?.name !== 'extractAndBuildInvoiceFile') continue;
    const details = await heartbeatDetailsOf(client, activity);
    const cursor = ExtractCursorSchema.safeParse(details);
    if (!cursor.success) continue;
    out.pagesDone = cursor.data.pagesDone;
    out.invoicesRead = cursor.data.invoicesRead;
    if (cursor.data.totalPages !== null) out.totalPages = cursor.data.totalPages;
    if (cursor.data.totalCount !== null) out.totalCount = cursor.data.totalCount;
  }
  return out;
}

/** One file IC accepted for the cycle (a run that ended UPLOADED). */
export interface SentFileView {
  fileName: string;
  /** Rows in the file and the sum of their amount_due. */
  invoiceCount: number;
  totalAmount: string;
  icInvoiceCount?: number;
  uploadedAt?: string;
  /** A follow-up file: only invoices none of the earlier files had. */
  followUp: boolean;
  runId: string;
}

export interface ExportReport {
  cycle: string;
  /** Every file sent for the cycle, oldest first, and their sums. */
  files: SentFileView[];
  filesTotal: { invoiceCount: number; totalAmount: string };
  workflowId: string;
  execution: ExecutionStatusName;
  status?: ExportStatus;
  file: ExportFileRef | Omit<ExportFileRef, 'rejectedSample' | 'listedCount' | 'pages'>;
  upload?: UploadOutcome;
  decision?: ExportSummary['decision'];
  failure?: string;
  /** Invoices left out of the file, with reasons (from the rejected-rows file). */
  rejected: ExportRejection[];
  /** False when the rejected-rows file is not readable here (another machine): `rejected` is the sample. */
  rejectedFromFile: boolean;
  rejectedTotal: number;
}

/**
 * What was (or, at the approval gate, would be) sent for a cycle and what was left out
 * and why. Reads the rejected-rows file when this process can see the worker's DATA_DIR.
 */
export async function exportReport(
  client: Client,
  cycleInput: string,
  options: { maxRejected?: number } = {},
): Promise<ExportReport> {
  const cycle = parseOrThrow(BillingCycleSchema, cycleInput);
  const limit = options.maxRejected ?? 10_000;
  const status = await exportStatus(client, cycle);
  let summary = status.summary;
  if (!summary && !status.result) {
    // A failed run (e.g. IC refused the file) may still have built one: ask the workflow.
    summary = await client
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handleOf(client, cycle).query(exportSummaryQuery))
      .catch(() => undefined);
  }
  const file = status.result ?? summary?.file;
  if (!file) {
    throw new ExportError(
      'NO_FILE_YET',
      status.execution === 'RUNNING'
        ? `export of ${cycle} has not built its file yet (${status.status ?? 'EXTRACTING'})`
        : `export of ${cycle} ended without building a file: ${status.failure ?? status.status ?? status.execution}`,
    );
  }
  const sample = 'rejectedSample' in file ? file.rejectedSample : [];
  let rejected: ExportRejection[] = sample;
  let rejectedFromFile = false;
  try {
    const text = await readFile(file.rejectedPath, 'utf8');
    rejected = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(0, limit)
      .map((line) => JSON.parse(line) as ExportRejection);
    rejectedFromFile = true;
  } catch {
    // Not on this machine: the sample from history is what there is.
  }
  const files = await filesSent(client, cycle);
  return {
    cycle,
    files,
    filesTotal: {
      invoiceCount: files.reduce((sum, f) => sum + f.invoiceCount, 0),
      totalAmount: fromCents(files.reduce((sum, f) => sum + toCents(f.totalAmount), 0)),
    },
    workflowId: status.workflowId,
    execution: status.execution,
    status: status.status,
    file,
    upload:
      status.result?.uploadedAt !== undefined
        ? { icInvoiceCount: status.result.icInvoiceCount ?? 0, uploadedAt: status.result.uploadedAt }
        : summary?.upload,
    decision: summary?.decision,
    failure: status.failure,
    rejected,
    rejectedFromFile,
    rejectedTotal: file.rejectedCount,
  };
}

/**
 * The files sent for a cycle: the results of its runs that ended UPLOADED, from Temporal's
 * visibility (what every operator machine can read, unlike the worker's DATA_DIR).
 */
export async function filesSent(client: Client, cycleInput: string): Promise<SentFileView[]> {
  const cycle = parseOrThrow(BillingCycleSchema, cycleInput);
  const files: SentFileView[] = [];
  const runs = client.workflow.list({
    query: `WorkflowId = '${workflowIds.export(cycle)}' AND ExecutionStatus = 'Completed'`,
  });
  for await (const run of runs) {
    const result = (await client.workflow.getHandle(run.workflowId, run.runId).result()) as ExportResult;
    if (result.status !== ExportStatus.UPLOADED) continue;
    files.push({
      fileName: result.fileName,
      invoiceCount: result.invoiceCount,
      totalAmount: result.totalAmount,
      icInvoiceCount: result.icInvoiceCount,
      uploadedAt: result.uploadedAt,
      followUp: result.followUp,
      runId: run.runId,
    });
  }
  return files.sort((a, b) => (a.uploadedAt ?? '').localeCompare(b.uploadedAt ?? ''));
}
