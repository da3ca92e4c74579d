/**
 * One workflow per billing cycle (ID `export-<cycle>`, e.g. `export-2022-09-01`): IMT's
 * invoices of the cycle → invoice file → (approval) → IC UploadInvoiceFile.
 *
 * History stays small whatever the cycle size (≈ 20 events): the activities exchange
 * references (path, sha256, counts), never invoices or file content.
 *
 * Progress: the extraction activity heartbeats its cursor (pages done, invoices read,
 * IMT's count). Heartbeats never reach history and a workflow cannot read them, so the
 * `progress` query reports the phase and, once the file is built, its counts; during the
 * extraction `client/exports.ts` adds the live cursor from the pending activity's
 * heartbeat details (`describe`). Reporting progress through signals or per-page
 * activities instead would cost history events per page for no gain in durability.
 *
 * Exactly once per cycle: the workflow ID is the cycle. The client starts it with
 * ALLOW_DUPLICATE_FAILED_ONLY (a finished cycle is refused; a failed, rejected or
 * terminated one may run again), a forced re-run with ALLOW_DUPLICATE. The Schedule
 * cannot use this ID itself (it names its runs `<scheduleId>-<timestamp>`), so its
 * action is `scheduledExportWorkflow`, a thin starter that works out the cycle from the
 * scheduled time and starts `export-<cycle>` as an abandoned child under the same policy.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { ALERTS_AS_RUNS_PATCH, raiseAlert, sendAlertInRun } from './alerts';
import {
  cycleOfInstant,
  isBillingCycle,
  isTimeZone,
  EXPORT_DEFAULT_PAGE_SIZE,
  EXPORT_MAX_PAGE_SIZE,
  ExportFailureType,
  ExportStatus,
  FailureType,
  SA,
  SCHEDULED_START_TIME,
  workflowIds,
  type ExportDecision,
  type ExportProgress,
  type ExportResult,
  type ExportSummary,
  type ExportWorkflowInput,
  type ScheduledExportInput,
  type ScheduledExportOutcome,
  approveExportSignal,
  exportProgressQuery,
  exportSummaryQuery,
  rejectExportSignal,
} from '../domain';
import { callIcAlertingOnAuth } from './ic-calls';
import { failureSummary, failureTypeOf, isAlreadyStarted } from './failures';

const { extractAndBuildInvoiceFile } = proxyActivities<Activities>({
  // 100,000 invoices take well under a minute; the margin covers a slow IMT.
  startToCloseTimeout: '1 hour',
  // Every listing page heartbeats; a worker that died is noticed within 30 s and the
  // retry resumes from the saved pages.
  heartbeatTimeout: '30 seconds',
  // IMT down or failing: keep trying with backoff for two hours, then FAILED + alert.
  scheduleToCloseTimeout: '2 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const UPLOAD_RETRY: RetryPolicy = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '2 minutes',
};
const { uploadInvoiceFile } = proxyActivities<Activities>({
  // The IC client gives up on one call after 120 s.
  startToCloseTimeout: '10 minutes',
  scheduleToCloseTimeout: '2 hours',
  // Safe to repeat: IC loads a FileName + content once (contracts D).
  retry: UPLOAD_RETRY,
});
/** First upload call: IC refusing the credentials stops it so the run can say so and alert. */
const { uploadInvoiceFile: uploadUntilAuthRejected } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  scheduleToCloseTimeout: '2 hours',
  retry: { ...UPLOAD_RETRY, nonRetryableErrorTypes: [FailureType.AuthRejected] },
});
/** After that alert: retried (AuthRejected slowly) until a person fixes the credentials. */
const { uploadInvoiceFile: uploadUntilCredentialsFixed } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: UPLOAD_RETRY,
});

const MAX_EVENTS_KEPT = 50;

/**
 * Why one long function: the export's state, progress query, approval signals and its
 * steps (extract → approve → upload → verify) share one closure (Temporal's workflow style).
 */
export async function exportBillingCycleWorkflow(input: ExportWorkflowInput): Promise<ExportResult> {
  const pageSize = input.pageSize ?? EXPORT_DEFAULT_PAGE_SIZE;
  if (!isBillingCycle(input.cycle)) {
    throw ApplicationFailure.create({
      type: ExportFailureType.InvalidExportInput,
      nonRetryable: true,
      message: `invalid billing cycle ${JSON.stringify(input.cycle)}: expected YYYY-MM-01`,
    });
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > EXPORT_MAX_PAGE_SIZE) {
    throw ApplicationFailure.create({
      type: ExportFailureType.InvalidExportInput,
      nonRetryable: true,
      message: `invalid page size ${pageSize}: expected 1–${EXPORT_MAX_PAGE_SIZE}`,
    });
  }
  const { cycle } = input;
  const info = workflowInfo();
  const summary: ExportSummary = {
    cycle,
    status: ExportStatus.EXTRACTING,
    approvalRequired: input.approvalRequired ?? false,
    force: input.force ?? false,
    pageSize,
    requestedBy: input.requestedBy,
    startedAt: info.startTime.toISOString(),
    events: [],
  };
  const progress: ExportProgress = { phase: ExportStatus.EXTRACTING, pagesDone: 0, invoicesRead: 0 };
  let decision: ExportDecision | undefined;
  let countDecision: ExportDecision | undefined;

  const record = (event: string, detail?: string) => {
    summary.events.push({ at: new Date().toISOString(), event, detail });
    if (summary.events.length > MAX_EVENTS_KEPT)
      summary.events.splice(1, summary.events.length - MAX_EVENTS_KEPT);
  };
  const setStatus = (status: ExportStatus) => {
    summary.status = status;
    progress.phase = status;
    upsertSearchAttributes([
      { key: SA.BillingCycle, value: cycle },
      { key: SA.ExportStatus, value: status },
    ]);
  };
  // Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts).
  const alert = async (title: string, text: string) => {
    const key = `${info.workflowId}:${info.runId}:${summary.status}`;
    if (patched(ALERTS_AS_RUNS_PATCH)) await raiseAlert({ key, title, text });
    else await sendAlertInRun({ key, title, text }).catch(() => undefined);
  };
  /** Records why the run stops, marks it, alerts once, and hands back the error to rethrow. */
  const stop = async (status: ExportStatus, err: unknown): Promise<unknown> => {
    if (isCancellation(err)) {
      setStatus(ExportStatus.CANCELLED);
      record('cancelled');
      return err;
    }
    const failure = failureSummary(err);
    summary.lastError = failure;
    setStatus(status);
    record(status.toLowerCase(), `${failure.type}: ${failure.message}`);
    await alert(`Export of billing cycle ${cycle} stopped: ${status}`, `${failure.type}: ${failure.message}`);
    return err;
  };

  setHandler(exportProgressQuery, () => progress);
  setHandler(exportSummaryQuery, () => summary);
  setHandler(approveExportSignal, (args) => {
    if (summary.status === ExportStatus.NEEDS_ATTENTION && !countDecision) {
      countDecision = {
        decision: 'approved',
        by: args?.by,
        reason: args?.note,
        at: new Date().toISOString(),
      };
      record('count mismatch accepted', args?.by);
      return;
    }
    if (summary.status !== ExportStatus.AWAITING_APPROVAL || decision) {
      record('approve ignored', `export is ${summary.status}`);
      return;
    }
    decision = { decision: 'approved', by: args?.by, reason: args?.note, at: new Date().toISOString() };
    record('approved', args?.by);
  });
  setHandler(rejectExportSignal, ({ reason, by }) => {
    if (summary.status === ExportStatus.NEEDS_ATTENTION && !countDecision) {
      countDecision = { decision: 'rejected', by, reason, at: new Date().toISOString() };
      record('count mismatch failed', `${by ?? 'operator'}: ${reason}`);
      return;
    }
    if (summary.status !== ExportStatus.AWAITING_APPROVAL || decision) {
      record('reject ignored', `export is ${summary.status}`);
      return;
    }
    decision = { decision: 'rejected', by, reason, at: new Date().toISOString() };
    record('rejected', `${by ?? 'operator'}: ${reason}`);
  });

  /**
   * IC loaded the file but counts another number of invoices: something was dropped or
   * doubled on IC's side. Nothing is re-sent automatically; a person looks at IC and
   * accepts the upload (`approve`) or fails the export (`reject`).
   */
  const parkOnCountMismatch = async (icInvoiceCount: number) => {
    const fileInvoiceCount = summary.file?.invoiceCount ?? 0;
    summary.countMismatch = { icInvoiceCount, fileInvoiceCount };
    setStatus(ExportStatus.NEEDS_ATTENTION);
    await alert(
      `Export of billing cycle ${cycle} needs attention: IC counts ${icInvoiceCount} invoices, the file has ${fileInvoiceCount}`,
      `${summary.file?.fileName}: check the invoices in IC, then \`imt-ic export approve ${cycle}\` to accept the upload or \`imt-ic export reject ${cycle} --reason …\` to fail the export.`,
    );
    try {
      await condition(() => countDecision !== undefined);
    } catch (err) {
      throw await stop(ExportStatus.CANCELLED, err);
    }
    summary.countMismatch.decision = countDecision;
    if (countDecision?.decision === 'rejected') {
      const failure = ApplicationFailure.create({
        type: ExportFailureType.IcInvoiceCountMismatch,
        nonRetryable: true,
        message: `export of ${cycle} failed by ${countDecision.by ?? 'an operator'} after IC counted ${icInvoiceCount} invoices for a file of ${fileInvoiceCount}: ${countDecision.reason}`,
      });
      summary.lastError = { type: failure.type ?? 'Error', message: failure.message };
      setStatus(ExportStatus.FAILED);
      throw failure;
    }
  };

  setStatus(ExportStatus.EXTRACTING);
  record('started', input.requestedBy);

  // 1. Extract and build (a reference comes back, never the invoices).
  try {
    summary.file = await extractAndBuildInvoiceFile({ cycle, pageSize });
  } catch (err) {
    throw await stop(ExportStatus.FAILED, err);
  }
  const file = summary.file;
  Object.assign(progress, {
    pagesDone: file.pages,
    totalPages: file.pages,
    invoicesRead: file.listedCount,
    totalCount: file.listedCount,
    rowsWritten: file.invoiceCount,
    rejectedCount: file.rejectedCount,
  });
  record('file built', `${file.fileName}: ${file.invoiceCount} invoices, ${file.rejectedCount} left out`);

  // 2. Optional approval gate: waits, durably, for a person.
  if (summary.approvalRequired) {
    setStatus(ExportStatus.AWAITING_APPROVAL);
    await alert(
      `Export of billing cycle ${cycle} awaits approval`,
      `${file.fileName}: ${file.invoiceCount} invoices totalling ${file.totalAmount}, ${file.rejectedCount} left out (see the export report). Approve or reject it.`,
    );
    try {
      await condition(() => decision !== undefined);
    } catch (err) {
      throw await stop(ExportStatus.CANCELLED, err);
    }
    summary.decision = decision;
    if (decision?.decision === 'rejected') {
      setStatus(ExportStatus.REJECTED_BY_OPERATOR);
      throw ApplicationFailure.create({
        type: ExportFailureType.ExportRejected,
        nonRetryable: true,
        message: `export of ${cycle} rejected by ${decision.by ?? 'an operator'}: ${decision.reason}`,
      });
    }
  }

  // 3. Upload. IC refusing the file is final; anything else is retried by the activity policy.
  setStatus(ExportStatus.UPLOADING);
  const uploadInput = { filePath: file.filePath, fileName: file.fileName, sha256: file.sha256 };
  // Runs that reached the upload before this change keep their command sequence (replay).
  const checksIc = patched('export-ic-auth-alert-and-count-check');
  try {
    summary.upload = checksIc
      ? await callIcAlertingOnAuth(
          () => uploadUntilAuthRejected(uploadInput),
          () => uploadUntilCredentialsFixed(uploadInput),
          async (message) => {
            setStatus(ExportStatus.AUTH_REJECTED);
            summary.lastError = { type: FailureType.AuthRejected, message };
            record('auth rejected', message);
            await alert(
              `Export of billing cycle ${cycle}: IC rejects the credentials`,
              `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the upload resumes by itself.`,
            );
          },
        )
      : await uploadInvoiceFile(uploadInput);
  } catch (err) {
    const refused = failureTypeOf(err) === FailureType.FileRejected;
    throw await stop(refused ? ExportStatus.FILE_REJECTED : ExportStatus.FAILED, err);
  }
  if (summary.upload.icInvoiceCount !== file.invoiceCount) {
    record(
      'count mismatch',
      `IC reports ${summary.upload.icInvoiceCount} invoices, the file has ${file.invoiceCount}`,
    );
    if (checksIc) await parkOnCountMismatch(summary.upload.icInvoiceCount);
  }
  setStatus(ExportStatus.UPLOADED);
  record('uploaded', file.fileName);

  return {
    cycle,
    fileName: file.fileName,
    filePath: file.filePath,
    sha256: file.sha256,
    bytes: file.bytes,
    invoiceCount: file.invoiceCount,
    totalAmount: file.totalAmount,
    rejectedCount: file.rejectedCount,
    rejectedPath: file.rejectedPath,
    sanitizedCount: file.sanitizedCount,
    icInvoiceCount: summary.upload.icInvoiceCount,
    uploadedAt: summary.upload.uploadedAt,
    ...(summary.countMismatch ? { countMismatch: summary.countMismatch } : {}),
  };
}

/**
 * The Schedule's action: works out the cycle from the time the action was scheduled
 * (`TemporalScheduledStartTime`, set by Temporal; a manual trigger sets it to the trigger
 * time) and starts `export-<cycle>`. A second firing for the same cycle (catch-up,
 * manual trigger, a re-created schedule) finds the ID taken and starts nothing.
 */
export async function scheduledExportWorkflow(input: ScheduledExportInput): Promise<ScheduledExportOutcome> {
  if (!isTimeZone(input.timeZone)) {
    throw ApplicationFailure.create({
      type: ExportFailureType.InvalidExportInput,
      nonRetryable: true,
      message: `unknown time zone ${JSON.stringify(input.timeZone)}`,
    });
  }
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const cycle = cycleOfInstant(scheduled, input.timeZone, input.cycleMonthOffset ?? 0);
  const workflowId = workflowIds.export(cycle);
  const outcome = { cycle, workflowId, scheduledTime: scheduled.toISOString() };
  try {
    await startChild(exportBillingCycleWorkflow, {
      workflowId,
      args: [
        {
          cycle,
          approvalRequired: input.approvalRequired,
          pageSize: input.pageSize,
          requestedBy: `schedule ${info.workflowId}`,
        },
      ],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      // The export outlives this starter, which completes as soon as the child is running.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SA.BillingCycle, value: cycle },
        { key: SA.ExportStatus, value: ExportStatus.EXTRACTING },
      ],
    });
  } catch (err) {
    if (isAlreadyStarted(err)) {
      return { ...outcome, started: false, reason: `${workflowId} has already run (or is running)` };
    }
    throw err;
  }
  return { ...outcome, started: true };
}
