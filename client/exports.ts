/**
 * Operator functions for billing-cycle exports, shared by the CLI (client/cli/export-commands.ts),
 * tests and anything else that drives exports. Plain functions over a Temporal `Client`.
 *
 * Start policy (why a re-run is refused): the workflow ID is `export-<cycle>`. A normal
 * start uses ALLOW_DUPLICATE_FAILED_ONLY: a cycle that was exported is refused, a cycle
 * whose run failed, was rejected at the approval gate, cancelled or terminated may be
 * started again. `force` uses ALLOW_DUPLICATE to export a finished cycle again; the
 * forced run rebuilds the file, and the same content gives the same sha256 and so the
 * same FileName, which IC does not load twice. A run still in progress is never replaced
 * (conflict policy FAIL), forced or not: two concurrent exports of one cycle are exactly
 * what the ID is there to prevent.
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
  type Payload,
} from '@temporalio/common';
import { z } from 'zod';
import { ExtractCursorSchema } from '../activities/export';
import {
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
  approveExportSignal,
  exportProgressQuery,
  exportSummaryQuery,
  rejectExportSignal,
} from '../domain';
import type { exportBillingCycleWorkflow } from '../workflows/export-billing-cycle';

export type ExportErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'ALREADY_EXPORTED'
  | 'ALREADY_RUNNING'
  | 'ALREADY_EXISTS'
  | 'NOT_AWAITING_APPROVAL'
  | 'NO_FILE_YET'
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

type ExportHandle = WorkflowHandle<typeof exportBillingCycleWorkflow>;

/** How long a status or report waits for a worker to answer a query. */
const QUERY_DEADLINE_MS = 5000;

function handleOf(client: Client, cycle: string): ExportHandle {
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
      workflowIdReusePolicy: opts.force
        ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
        : WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
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
  return { ...outcome, result: await resultOrThrow(handle, opts.cycle) };
}

/** Why a start was refused, in the operator's terms. */
async function refusal(client: Client, cycle: string, forced: boolean): Promise<ExportError> {
  const status = await exportStatus(client, cycle).catch(() => undefined);
  if (!status || status.execution === 'RUNNING') {
    return new ExportError(
      'ALREADY_RUNNING',
      `an export of ${cycle} is in progress (${status?.status ?? 'status unknown'}): wait for it, or cancel it in the Temporal UI first${forced ? ' (--force does not replace a running export)' : ''}`,
    );
  }
  const file = status.result ? `: ${status.result.fileName}, uploaded ${status.result.uploadedAt}` : '';
  return new ExportError(
    'ALREADY_EXPORTED',
    `billing cycle ${cycle} was already exported${file}. Re-run with --force to export it again (IC does not load the same file twice).`,
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

interface PendingActivityLike {
  activityType?: { name?: string | null } | null;
  heartbeatDetails?: { payloads?: unknown[] | null } | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null } | null;
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
      if (activity.lastFailure?.message) out.lastFailure = activity.lastFailure.message;
    }
    if (activity.activityType?.name !== 'extractAndBuildInvoiceFile') continue;
    const payloads = activity.heartbeatDetails?.payloads;
    if (!payloads?.length) continue;
    let details: unknown;
    try {
      // Through the client's codecs: heartbeat details are encrypted like every payload.
      const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
      let decoded = payloads as Payload[];
      for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
      details = payloadConverter.fromPayload(decoded[0]!);
    } catch {
      continue;
    }
    const cursor = ExtractCursorSchema.safeParse(details);
    if (!cursor.success) continue;
    out.pagesDone = cursor.data.pagesDone;
    out.invoicesRead = cursor.data.invoicesRead;
    if (cursor.data.totalPages !== null) out.totalPages = cursor.data.totalPages;
    if (cursor.data.totalCount !== null) out.totalCount = cursor.data.totalCount;
  }
  return out;
}

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
  await handle.signal(approveExportSignal, args);
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
  await handle.signal(rejectExportSignal, args);
}

export interface ExportReport {
  cycle: string;
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
  return {
    cycle,
    workflowId: status.workflowId,
    execution: status.execution,
    status: status.status,
    file,
    upload: status.result
      ? { icInvoiceCount: status.result.icInvoiceCount, uploadedAt: status.result.uploadedAt }
      : summary?.upload,
    decision: summary?.decision,
    failure: status.failure,
    rejected,
    rejectedFromFile,
    rejectedTotal: file.rejectedCount,
  };
}
