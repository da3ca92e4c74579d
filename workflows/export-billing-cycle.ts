/**
 * One run sends one file of a billing cycle (ID `export-<cycle>`, e.g. `export-2022-09-01`):
 * IMT's invoices of the cycle → invoice file → (approval) → IC UploadInvoiceFile.
 *
 * History stays small whatever the cycle size (≈ 20 events): the activities exchange
 * references (path, sha256, counts), never invoices or file content.
 *
 * A cycle may need more than one file: IMT creates a cycle's invoices in the first days of the
 * next month and may add or finalise some later (contracts C1). Every run leaves out the
 * invoices of the files IC already accepted for the cycle (the cycle's ledger,
 * activities/export-ledger.ts), so the first run that finds billable invoices sends the cycle's
 * file, later runs send only late invoices (a follow-up file), and no row is sent twice. A run
 * that finds nothing to send uploads nothing: EMPTY when the cycle has no file yet (it is not
 * exported), UP_TO_DATE otherwise (`domain/export.ts`, `nextStepAfterBuild`).
 *
 * One run at a time per cycle: the workflow ID is the cycle and a start while a run is open is
 * refused (client/exports.ts, and the daily starter below). A closed run never blocks the next:
 * exactly-once comes from the ledger, not from the workflow ID.
 *
 * Progress: the extraction activity heartbeats its cursor (pages done, invoices read,
 * IMT's count). Heartbeats never reach history and a workflow cannot read them, so the
 * `progress` query reports the phase and, once the file is built, its counts; during the
 * extraction `client/exports.ts` adds the live cursor from the pending activity's
 * heartbeat details (`describe`).
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import {
  cycleOfInstant,
  dayOfMonthIn,
  emptyCycleAlertDue,
  exportDetails,
  exportStaticSummary,
  isBillingCycle,
  isTimeZone,
  nextStepAfterBuild,
  DEFAULT_CYCLE_MONTH_OFFSET,
  DEFAULT_EMPTY_ALERT_DAY,
  EXPORT_DEFAULT_PAGE_SIZE,
  EXPORT_MAX_PAGE_SIZE,
  ExportFailureType,
  ExportStatus,
  FailureType,
  SA,
  SCHEDULED_START_TIME,
  workflowIds,
  refuseExportDecision,
  type ApproveExportInput,
  type ExportDecision,
  type RejectExportInput,
  type ExportFileRef,
  type ExportProgress,
  type ExportResult,
  type ExportSummary,
  type ExportWorkflowInput,
  type ScheduledExportInput,
  type ScheduledExportOutcome,
  approveExportUpdate,
  exportProgressQuery,
  exportSummaryQuery,
  rejectExportUpdate,
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
/** First upload call: IC refusing the credentials stops it so the run can say so and alert. */
const { uploadInvoiceFile: uploadUntilAuthRejected } = proxyActivities<Activities>({
  // The IC client gives up on one call after 120 s.
  startToCloseTimeout: '10 minutes',
  scheduleToCloseTimeout: '2 hours',
  // Safe to repeat: IC loads a FileName + content once (contracts D).
  retry: { ...UPLOAD_RETRY, nonRetryableErrorTypes: [FailureType.AuthRejected] },
});
/** After that alert: retried (AuthRejected slowly) until a person fixes the credentials. */
const { uploadInvoiceFile: uploadUntilCredentialsFixed } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: UPLOAD_RETRY,
});

const MAX_EVENTS_KEPT = 50;

function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ExportFailureType.InvalidExportInput,
    nonRetryable: true,
    message,
  });
}

export async function exportBillingCycleWorkflow(input: ExportWorkflowInput): Promise<ExportResult> {
  const pageSize = input.pageSize ?? EXPORT_DEFAULT_PAGE_SIZE;
  if (!isBillingCycle(input.cycle))
    throw invalidInput(`invalid billing cycle ${JSON.stringify(input.cycle)}: expected YYYY-MM-01`);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > EXPORT_MAX_PAGE_SIZE)
    throw invalidInput(`invalid page size ${pageSize}: expected 1–${EXPORT_MAX_PAGE_SIZE}`);
  const run = new ExportRun(input, pageSize);
  run.record('started', input.requestedBy);

  // 1. Extract and build (a reference comes back, never the invoices).
  let file: ExportFileRef;
  try {
    file = await extractAndBuildInvoiceFile({ cycle: input.cycle, pageSize, resend: input.force ?? false });
  } catch (err) {
    throw await run.stop(ExportStatus.FAILED, err);
  }
  run.fileBuilt(file);

  // 2. Nothing to send: say so and upload nothing (not an "exported" cycle when EMPTY).
  const step = nextStepAfterBuild(file);
  if (step !== 'upload')
    return run.finishedWithoutUpload(step === 'empty' ? ExportStatus.EMPTY : ExportStatus.UP_TO_DATE);

  // 3. Optional approval gate: waits, durably, for a person.
  if (run.summary.approvalRequired) await run.awaitApproval(file);

  // 4. Upload; IC counting another number of rows parks the run for a person.
  await run.upload(file);
  return run.uploaded(file);
}

/**
 * The state of one export run and its steps, as small methods over one object (the workflow
 * function above reads top to bottom). Handlers are installed by the constructor.
 */
class ExportRun {
  readonly summary: ExportSummary;
  readonly progress: ExportProgress = { phase: ExportStatus.EXTRACTING, pagesDone: 0, invoicesRead: 0 };
  private decision: ExportDecision | undefined;
  private countDecision: ExportDecision | undefined;
  private readonly cycle: string;

  constructor(input: ExportWorkflowInput, pageSize: number) {
    this.cycle = input.cycle;
    this.summary = {
      cycle: input.cycle,
      status: ExportStatus.EXTRACTING,
      approvalRequired: input.approvalRequired ?? false,
      force: input.force ?? false,
      pageSize,
      requestedBy: input.requestedBy,
      startedAt: workflowInfo().startTime.toISOString(),
      events: [],
    };
    setHandler(exportProgressQuery, () => this.progress);
    setHandler(exportSummaryQuery, () => this.summary);
    // Updates: refused without history unless a decision is awaited; the answer is the status after it.
    const awaitingDecision = () => {
      const refusal = refuseExportDecision(this.cycle, this.summary.status, {
        decision: this.decision,
        countDecision: this.countDecision,
      });
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'WrongState');
    };
    const answered = () => ({ workflowId: workflowInfo().workflowId, status: this.summary.status });
    setHandler(
      approveExportUpdate,
      (args: ApproveExportInput) => {
        this.decide({ decision: 'approved', by: args?.by, reason: args?.note });
        return answered();
      },
      { validator: (_args: ApproveExportInput) => awaitingDecision() },
    );
    setHandler(
      rejectExportUpdate,
      ({ reason, by }: RejectExportInput) => {
        this.decide({ decision: 'rejected', by, reason });
        return answered();
      },
      { validator: (_args: RejectExportInput) => awaitingDecision() },
    );
    this.setStatus(ExportStatus.EXTRACTING);
  }

  record(event: string, detail?: string): void {
    const events = this.summary.events;
    events.push({ at: new Date().toISOString(), event, detail });
    if (events.length > MAX_EVENTS_KEPT) events.splice(1, events.length - MAX_EVENTS_KEPT);
  }

  setStatus(status: ExportStatus): void {
    this.summary.status = status;
    this.progress.phase = status;
    upsertSearchAttributes([
      { key: SA.BillingCycle, value: this.cycle },
      { key: SA.ExportStatus, value: status },
    ]);
    setCurrentDetails(exportDetails(this.summary));
  }

  /** Approve / reject: the approval gate's decision, or (NEEDS_ATTENTION) the count mismatch's. */
  private decide(d: Omit<ExportDecision, 'at'>): void {
    const decision = { ...d, at: new Date().toISOString() };
    const who = d.decision === 'rejected' ? `${d.by ?? 'operator'}: ${d.reason}` : d.by;
    if (this.summary.status === ExportStatus.NEEDS_ATTENTION && !this.countDecision) {
      this.countDecision = decision;
      this.record(d.decision === 'approved' ? 'count mismatch accepted' : 'count mismatch failed', who);
    } else if (this.summary.status === ExportStatus.AWAITING_APPROVAL && !this.decision) {
      this.decision = decision;
      this.record(d.decision, who);
    } else {
      this.record(
        `${d.decision === 'approved' ? 'approve' : 'reject'} ignored`,
        `export is ${this.summary.status}`,
      );
    }
  }

  /** Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts). */
  private async alert(title: string, text: string): Promise<void> {
    const info = workflowInfo();
    await raiseAlert({ key: `${info.workflowId}:${info.runId}:${this.summary.status}`, title, text });
  }

  /** Records why the run stops, marks it, alerts once, and hands back the error to rethrow. */
  async stop(status: ExportStatus, err: unknown): Promise<unknown> {
    if (isCancellation(err)) {
      this.setStatus(ExportStatus.CANCELLED);
      this.record('cancelled');
      return err;
    }
    const failure = failureSummary(err);
    this.summary.lastError = failure;
    this.setStatus(status);
    this.record(status.toLowerCase(), `${failure.type}: ${failure.message}`);
    await this.alert(
      `Export of billing cycle ${this.cycle} stopped: ${status}`,
      `${failure.type}: ${failure.message}`,
    );
    return err;
  }

  fileBuilt(file: ExportFileRef): void {
    this.summary.file = file;
    Object.assign(this.progress, {
      pagesDone: file.pages,
      totalPages: file.pages,
      invoicesRead: file.listedCount,
      totalCount: file.listedCount,
      rowsWritten: file.invoiceCount,
      rejectedCount: file.rejectedCount,
    });
    this.record(
      'file built',
      `${file.fileName}: ${file.invoiceCount} invoices, ${file.rejectedCount} left out (${file.notBillableCount} not billable), ${file.alreadySentCount} sent before`,
    );
    setCurrentDetails(exportDetails(this.summary));
  }

  finishedWithoutUpload(status: typeof ExportStatus.EMPTY | typeof ExportStatus.UP_TO_DATE): ExportResult {
    this.setStatus(status);
    this.record(
      status === ExportStatus.EMPTY
        ? 'no billable invoice: nothing uploaded'
        : 'nothing new: nothing uploaded',
    );
    return this.result(this.summary.file as ExportFileRef, status);
  }

  uploaded(file: ExportFileRef): ExportResult {
    this.setStatus(ExportStatus.UPLOADED);
    this.record('uploaded', file.fileName);
    return this.result(file, ExportStatus.UPLOADED);
  }

  private result(file: ExportFileRef, status: ExportResult['status']): ExportResult {
    const { upload, countMismatch } = this.summary;
    return {
      cycle: this.cycle,
      status,
      followUp: file.filesSentBefore > 0,
      fileName: file.fileName,
      filePath: file.filePath,
      sha256: file.sha256,
      bytes: file.bytes,
      invoiceCount: file.invoiceCount,
      totalAmount: file.totalAmount,
      rejectedCount: file.rejectedCount,
      rejectedPath: file.rejectedPath,
      sanitizedCount: file.sanitizedCount,
      notBillableCount: file.notBillableCount,
      alreadySentCount: file.alreadySentCount,
      filesSentBefore: file.filesSentBefore,
      ...(upload ? { icInvoiceCount: upload.icInvoiceCount, uploadedAt: upload.uploadedAt } : {}),
      ...(countMismatch ? { countMismatch } : {}),
    };
  }

  async awaitApproval(file: ExportFileRef): Promise<void> {
    this.setStatus(ExportStatus.AWAITING_APPROVAL);
    await this.alert(
      `Export of billing cycle ${this.cycle} awaits approval`,
      `${file.fileName}: ${file.invoiceCount} invoices totalling ${file.totalAmount}, ${file.rejectedCount} left out (see the export report). Approve or reject it.`,
    );
    try {
      await condition(() => this.decision !== undefined);
    } catch (err) {
      throw await this.stop(ExportStatus.CANCELLED, err);
    }
    this.summary.decision = this.decision;
    if (this.decision?.decision === 'rejected') {
      this.setStatus(ExportStatus.REJECTED_BY_OPERATOR);
      throw ApplicationFailure.create({
        type: ExportFailureType.ExportRejected,
        nonRetryable: true,
        message: `export of ${this.cycle} rejected by ${this.decision.by ?? 'an operator'}: ${this.decision.reason}`,
      });
    }
  }

  /** IC refusing the file is final; anything else is retried by the activity policy. */
  async upload(file: ExportFileRef): Promise<void> {
    this.setStatus(ExportStatus.UPLOADING);
    const uploadInput = {
      filePath: file.filePath,
      fileName: file.fileName,
      sha256: file.sha256,
      ledger: { cycle: this.cycle, invoiceCount: file.invoiceCount, totalAmount: file.totalAmount },
    };
    try {
      this.summary.upload = await callIcAlertingOnAuth(
        () => uploadUntilAuthRejected(uploadInput),
        () => uploadUntilCredentialsFixed(uploadInput),
        async (message) => {
          this.setStatus(ExportStatus.AUTH_REJECTED);
          this.summary.lastError = { type: FailureType.AuthRejected, message };
          this.record('auth rejected', message);
          await this.alert(
            `Export of billing cycle ${this.cycle}: IC rejects the credentials`,
            `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the upload resumes by itself.`,
          );
        },
      );
    } catch (err) {
      const refused = failureTypeOf(err) === FailureType.FileRejected;
      throw await this.stop(refused ? ExportStatus.FILE_REJECTED : ExportStatus.FAILED, err);
    }
    const icInvoiceCount = this.summary.upload.icInvoiceCount;
    if (icInvoiceCount !== file.invoiceCount) {
      this.record(
        'count mismatch',
        `IC reports ${icInvoiceCount} invoices, the file has ${file.invoiceCount}`,
      );
      await this.parkOnCountMismatch(file, icInvoiceCount);
    }
  }

  /**
   * IC loaded the file but counts another number of invoices: something was dropped or
   * doubled on IC's side. Nothing is re-sent automatically; a person looks at IC and
   * accepts the upload (`approve`) or fails the export (`reject`).
   */
  private async parkOnCountMismatch(file: ExportFileRef, icInvoiceCount: number): Promise<void> {
    const fileInvoiceCount = file.invoiceCount;
    this.summary.countMismatch = { icInvoiceCount, fileInvoiceCount };
    this.setStatus(ExportStatus.NEEDS_ATTENTION);
    await this.alert(
      `Export of billing cycle ${this.cycle} needs attention: IC counts ${icInvoiceCount} invoices, the file has ${fileInvoiceCount}`,
      `${file.fileName}: check the invoices in IC, then \`imt-ic export approve ${this.cycle}\` to accept the upload or \`imt-ic export reject ${this.cycle} --reason …\` to fail the export.`,
    );
    try {
      await condition(() => this.countDecision !== undefined);
    } catch (err) {
      throw await this.stop(ExportStatus.CANCELLED, err);
    }
    const decision = this.countDecision as ExportDecision;
    this.summary.countMismatch.decision = decision;
    if (decision.decision === 'rejected') {
      const failure = ApplicationFailure.create({
        type: ExportFailureType.IcInvoiceCountMismatch,
        nonRetryable: true,
        message: `export of ${this.cycle} failed by ${decision.by ?? 'an operator'} after IC counted ${icInvoiceCount} invoices for a file of ${fileInvoiceCount}: ${decision.reason}`,
      });
      this.summary.lastError = { type: failure.type ?? 'Error', message: failure.message };
      this.setStatus(ExportStatus.FAILED);
      throw failure;
    }
  }
}

/**
 * The Schedule's action, once a day: the cycle is the month of the scheduled time
 * (`TemporalScheduledStartTime`, set by Temporal; a manual trigger sets it to the trigger
 * time) plus `cycleMonthOffset` (default -1: the month before). It runs `export-<cycle>` and
 * waits for it: the first day IMT has the cycle's billable invoices sends the cycle's file,
 * later days send late invoices in follow-up files, other days upload nothing. A cycle still
 * EMPTY from `emptyAlertDay` on raises one alert (its key is the cycle).
 */
export async function scheduledExportWorkflow(input: ScheduledExportInput): Promise<ScheduledExportOutcome> {
  if (!isTimeZone(input.timeZone)) throw invalidInput(`unknown time zone ${JSON.stringify(input.timeZone)}`);
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const cycle = cycleOfInstant(
    scheduled,
    input.timeZone,
    input.cycleMonthOffset ?? DEFAULT_CYCLE_MONTH_OFFSET,
  );
  const workflowId = workflowIds.export(cycle);
  const outcome: ScheduledExportOutcome = {
    cycle,
    workflowId,
    scheduledTime: scheduled.toISOString(),
    started: false,
  };
  const show = (line: string) => setCurrentDetails(`**Daily export check** · cycle ${cycle}\n\n${line}`);
  show(`starting ${workflowId}…`);
  const requestedBy = `schedule ${info.workflowId}`;
  let child;
  try {
    child = await startChild(exportBillingCycleWorkflow, {
      workflowId,
      args: [{ cycle, approvalRequired: input.approvalRequired, pageSize: input.pageSize, requestedBy }],
      // A closed run never blocks the next: the cycle's ledger keeps every row to one file.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      // The export outlives this starter if the starter is terminated.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: exportStaticSummary(cycle, requestedBy, false),
      typedSearchAttributes: [
        { key: SA.BillingCycle, value: cycle },
        { key: SA.ExportStatus, value: ExportStatus.EXTRACTING },
      ],
    });
  } catch (err) {
    if (!isAlreadyStarted(err)) throw err;
    show(`${workflowId} is still running: nothing started`);
    return { ...outcome, reason: `${workflowId} is running (e.g. awaiting approval): nothing started today` };
  }
  let result: ExportResult;
  try {
    result = await child.result();
  } catch (err) {
    // The export run has said why and alerted itself; this run only reports it.
    show(`${workflowId} failed: ${failureSummary(err).message}`);
    return {
      ...outcome,
      started: true,
      exportStatus: ExportStatus.FAILED,
      reason: failureSummary(err).message,
    };
  }
  const alerted = await alertIfStillEmpty(result, dayOfMonthIn(scheduled, input.timeZone), input);
  show(
    `${workflowId}: **${result.status}** · ${result.invoiceCount} invoices sent${result.followUp ? ' (follow-up file)' : ''}`,
  );
  return {
    ...outcome,
    started: true,
    exportStatus: result.status,
    ...(result.status === ExportStatus.UPLOADED
      ? { fileName: result.fileName, invoiceCount: result.invoiceCount }
      : {}),
    alerted,
  };
}

/** One alert per cycle (its key) when the cycle is still EMPTY from `emptyAlertDay` on. */
async function alertIfStillEmpty(
  result: ExportResult,
  dayOfMonth: number,
  input: ScheduledExportInput,
): Promise<boolean> {
  if (!emptyCycleAlertDue(result.status, dayOfMonth, input.emptyAlertDay ?? DEFAULT_EMPTY_ALERT_DAY))
    return false;
  const { cycle } = result;
  await raiseAlert({
    key: `${workflowIds.export(cycle)}:still-empty`,
    title: `Billing cycle ${cycle} is still empty`,
    text: `IMT lists no final, sent invoice for ${cycle} yet (${result.notBillableCount} drafts or unsent). Nothing was sent to IC; the daily check goes on. See \`imt-ic export report ${cycle}\`.`,
  });
  return true;
}
