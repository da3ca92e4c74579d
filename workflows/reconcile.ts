/**
 * Daily reconciliation (issue 12): `reconcile-<date>` compares, per transaction, what IC
 * delivered to this service with what IMT holds from IC for that biller day (contracts C4).
 *
 * The comparison runs in one activity (`reconcileDay`): both sides are paged there and the
 * report is written under DATA_DIR, so a 100,000-transaction day costs this history a
 * handful of events. The workflow shows the summary in the UI (current details), alerts once
 * when the sides differ, and returns the summary.
 *
 * `scheduledReconcileWorkflow` is the daily Schedule's action: it works out "yesterday" from
 * the scheduled time in the biller's time zone and starts `reconcile-<date>` once per date.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  proxyActivities,
  setCurrentDetails,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isAlreadyStarted } from './failures';
import {
  isTimeZone,
  paymentsQueueFrom,
  addCalendarDays,
  dateOfInstant,
  isCalendarDate,
  SCHEDULED_START_TIME,
  RECONCILE_DEFAULT_PAGE_SIZE,
  ReconcileFailureType,
  reconcileWorkflowId,
  type ReconcileInput,
  type ReconcileSummary,
  type ScheduledReconcileInput,
  type ScheduledReconcileOutcome,
} from '../domain';

const { reconcileDay } = proxyActivities<Activities>({
  // 100,000 transactions take well under a minute; the margin covers a slow IMT.
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
  },
  scheduleToCloseTimeout: '12 hours',
});

const { sendAlert } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 20 },
});

const cents = (n: number): string => {
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
};

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ReconcileFailureType.InvalidReconcileInput,
    nonRetryable: true,
    message,
  });
}

/** The summary as the Temporal UI shows it (markdown). */
export function renderSummary(s: ReconcileSummary): string {
  const verdict =
    s.differences === 0
      ? `**IC and IMT agree** for ${s.date} (${s.transactions} transactions${s.inFlight ? `, ${s.inFlight} still in flight` : ''}).`
      : `**${s.differences} difference${s.differences === 1 ? '' : 's'}** for ${s.date} (${s.transactions} transactions${s.inFlight ? `, ${s.inFlight} still in flight` : ''}).`;
  const kinds = Object.entries(s.byKind)
    .map(([k, n]) => `${k}: ${n}`)
    .join(' · ');
  return [
    verdict,
    kinds,
    '| | delivered | posted | reversed | net |',
    '|---|---:|---:|---:|---:|',
    `| service | ${cents(s.service.deliveredCents)} | ${cents(s.service.postedCents)} | ${cents(s.service.reversedCents)} | ${cents(s.service.netCents)} |`,
    `| IMT | ${cents(s.imt.deliveredCents)} | ${cents(s.imt.postedCents)} | ${cents(s.imt.reversedCents)} | ${cents(s.imt.netCents)} |`,
    `Report: \`${s.reportPath}\` (\`imt-ic reconcile show ${s.date}\`)`,
  ]
    .filter((l) => l !== '')
    .join('\n\n');
}

export async function reconcileWorkflow(input: ReconcileInput): Promise<ReconcileSummary> {
  if (!isCalendarDate(input.date))
    throw invalid(`date must be YYYY-MM-DD, got ${JSON.stringify(input.date)}`);
  if (!isTimeZone(input.timeZone)) throw invalid(`unknown time zone ${JSON.stringify(input.timeZone)}`);
  const pageSize = input.pageSize ?? RECONCILE_DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    throw invalid(`pageSize must be 1–1000, got ${pageSize}`);
  const info = workflowInfo();
  setCurrentDetails(`Reconciling ${input.date} (${input.timeZone}): reading both sides…`);

  const summary = await reconcileDay({
    ...input,
    pageSize,
    // The transaction runs it compares live on the payments pool's queue.
    paymentsTaskQueue: paymentsQueueFrom(info.taskQueue),
    reportName: info.workflowId,
  });
  setCurrentDetails(renderSummary(summary));
  if (summary.differences > 0) {
    const kinds = Object.entries(summary.byKind)
      .filter(([k]) => k !== 'IN_FLIGHT')
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    await sendAlert({
      key: `${info.workflowId}:${info.runId}:DIFFERENCES`,
      title: `IC and IMT differ for ${summary.date}: ${summary.differences} difference${summary.differences === 1 ? '' : 's'}`,
      text: `${kinds}. Net: service ${cents(summary.service.netCents)}, IMT ${cents(summary.imt.netCents)}. Report: ${summary.reportPath} (imt-ic reconcile show ${summary.date}).`,
    }).catch(() => undefined);
  }
  return summary;
}

/**
 * The Schedule's action: the day to reconcile is the scheduled time's date in the biller's
 * time zone plus `dayOffset` (default -1, yesterday). `reconcile-<date>` is started with
 * ALLOW_DUPLICATE_FAILED_ONLY: a second firing for the same date (catch-up, trigger,
 * re-created schedule) starts nothing; a failed day may run again.
 */
export async function scheduledReconcileWorkflow(
  input: ScheduledReconcileInput,
): Promise<ScheduledReconcileOutcome> {
  if (!isTimeZone(input.timeZone)) throw invalid(`unknown time zone ${JSON.stringify(input.timeZone)}`);
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const date = addCalendarDays(dateOfInstant(scheduled, input.timeZone), input.dayOffset ?? -1);
  const workflowId = reconcileWorkflowId(date);
  const outcome = { date, workflowId, scheduledTime: scheduled.toISOString() };
  try {
    await startChild(reconcileWorkflow, {
      workflowId,
      args: [
        {
          date,
          timeZone: input.timeZone,
          pageSize: input.pageSize,
          requestedBy: `schedule ${info.workflowId}`,
        },
      ],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Reconciliation of ${date} (${input.timeZone})`,
    });
  } catch (err) {
    if (isAlreadyStarted(err)) {
      return { ...outcome, started: false, reason: `${workflowId} has already run (or is running)` };
    }
    throw err;
  }
  return { ...outcome, started: true };
}
