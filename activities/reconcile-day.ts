/**
 * One biller day reconciled, in phases the heartbeat reports (`ReconcileProgress.phase`):
 * the service's runs from visibility, IMT's listing paged and matched against them as it
 * streams, then per-transaction lookups for what only one side listed, then the totals.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  dateOfInstant,
  dayBounds,
  PaymentStatus,
  transactionStateQuery,
  workflowIds,
  ReconcileFailureType,
  type ReconcileDayInput,
  type ReconcileProgress,
  type ReconcileSummary,
  type TransactionState,
} from '../domain';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log';
import { DayComparison, imtSideOf, type ImtSide, type ServicePayment } from './reconcile-compare';
import { ReconcileReport } from './reconcile-report';
import { listServiceSide, servicePaymentOf } from './reconcile-service-side';

/** Per-transaction lookups (boundary cases, differences) run this many at a time. */
const LOOKUP_CONCURRENCY = 8;

async function mapLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  onProgress: () => void,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      await fn(items[next++]);
      if (next % 500 === 0) onProgress();
    }
  });
  await Promise.all(workers);
}

/** Compares one biller day; writes the CSV report; returns its summary. */
export async function reconcileOneDay(
  deps: ActivityDeps,
  temporal: Client,
  input: ReconcileDayInput,
): Promise<ReconcileSummary> {
  const ctx = Context.current();
  const startedAt = new Date().toISOString();
  const { date, timeZone, taskQueue } = input;
  const { start, end } = dayBounds(date, timeZone);
  const progress: ReconcileProgress = {
    phase: 'listing-service',
    serviceRunsListed: 0,
    imtPages: 0,
    imtCount: null,
  };
  const beat = () => ctx.heartbeat(progress);
  beat();

  const side = await listServiceSide(temporal, { taskQueue, start, end }, progress, beat);
  const report = ReconcileReport.open(deps.dataDir, date, input.reportName, ctx.info.attempt);
  const day = new DayComparison(date, (row) => report.writeRow(row));

  progress.phase = 'listing-imt';
  const imtOnly = await compareImtListing(deps, input, side.payments, day, progress, beat);

  progress.phase = 'resolving';
  beat();
  await resolveImtOnly(temporal, imtOnly, day, beat);
  const serviceOnly = [...side.payments.values()];
  side.payments.clear();
  await resolveServiceOnly(temporal, serviceOnly, day, { date, timeZone }, beat);

  progress.phase = 'writing';
  beat();
  day.closeTotals();
  await report.finish(day.service, day.imt);
  const summary: ReconcileSummary = {
    date,
    timeZone,
    workflowId: ctx.info.workflowExecution?.workflowId ?? input.reportName,
    reportPath: report.reportPath,
    transactions: day.transactions,
    matched: day.matched,
    differences: report.differences,
    inFlight: report.byKind.IN_FLIGHT ?? 0,
    byKind: report.byKind,
    service: day.service,
    imt: day.imt,
    imtPages: progress.imtPages,
    serviceRunsListed: progress.serviceRunsListed,
    sample: report.samples(),
    startedAt,
    finishedAt: new Date().toISOString(),
    requestedBy: input.requestedBy,
  };
  activityLogger(deps.logger).info(
    {
      date,
      differences: summary.differences,
      inFlight: summary.inFlight,
      transactions: day.transactions,
      reportPath: summary.reportPath,
    },
    'reconciliation finished',
  );
  return summary;
}

/**
 * IMT's side (C4), paged: each record is compared with the service's run of the same
 * transaction as it streams (and that run leaves `service`). Returns the records the service
 * did not list for the day. A listing that changes while it is paged fails the attempt.
 */
async function compareImtListing(
  deps: ActivityDeps,
  input: ReconcileDayInput,
  service: Map<string, ServicePayment>,
  day: DayComparison,
  progress: ReconcileProgress,
  beat: () => void,
): Promise<ImtSide[]> {
  const { date, pageSize } = input;
  const imtOnly: ImtSide[] = [];
  const seen = new Set<string>();
  const signal = Context.current().cancellationSignal;
  for (let page = 1; ; page++) {
    let answer;
    try {
      answer = await deps.imt.listPayments({ postedFrom: date, postedTo: date, page, pageSize }, signal);
    } catch (err) {
      const failure = toActivityFailure(err, { authRetryDelayMs: deps.authRetryDelayMs });
      if (page > 1 && failure.type === 'NotFound')
        throw ApplicationFailure.create({
          type: ReconcileFailureType.PaymentListingChanged,
          message: `IMT's payment listing for ${date} ended early at page ${page}: it changed while being read`,
        });
      throw failure;
    }
    if (progress.imtCount !== null && answer.count !== progress.imtCount)
      throw ApplicationFailure.create({
        type: ReconcileFailureType.PaymentListingChanged,
        message: `IMT's payment count for ${date} changed from ${progress.imtCount} to ${answer.count} while it was paged`,
      });
    progress.imtCount = answer.count;
    progress.imtPages = page;
    for (const p of answer.results) {
      if (seen.has(p.transaction_id)) continue;
      seen.add(p.transaction_id);
      const m = imtSideOf(p);
      day.countImt(m);
      const s = service.get(m.txid);
      if (s) {
        service.delete(m.txid);
        await day.compare(s, m);
      } else imtOnly.push(m);
    }
    beat();
    if (!answer.next) return imtOnly;
  }
}

/** IMT lists it; the service's run did not start that day, or never existed. */
async function resolveImtOnly(
  temporal: Client,
  imtOnly: ImtSide[],
  day: DayComparison,
  beat: () => void,
): Promise<void> {
  await mapLimit(
    imtOnly,
    LOOKUP_CONCURRENCY,
    async (m) => {
      let s: ServicePayment | undefined;
      try {
        s = servicePaymentOf(await temporal.workflow.getHandle(workflowIds.payment(m.txid)).describe());
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      if (s) await day.compare(s, m);
      else await day.notDelivered(m);
    },
    beat,
  );
}

/** The service's runs of the day that IMT does not list for it. */
async function resolveServiceOnly(
  temporal: Client,
  serviceOnly: ServicePayment[],
  day: DayComparison,
  when: { date: string; timeZone: string },
  beat: () => void,
): Promise<void> {
  await mapLimit(
    serviceOnly,
    LOOKUP_CONCURRENCY,
    async (s) => {
      if (POSTED_STATUSES.has(s.status)) {
        // Received today; IMT may have dated the posting another day (confirmed across midnight).
        const postedAt = await postedAtOf(temporal, s);
        if (
          postedAt &&
          !Number.isNaN(Date.parse(postedAt)) &&
          dateOfInstant(new Date(postedAt), when.timeZone) !== when.date
        ) {
          return; // another day's posting: that day's reconciliation compares it
        }
      }
      await day.compare(s, undefined);
    },
    beat,
  );
}

const POSTED_STATUSES = new Set<string>([
  PaymentStatus.POSTED,
  PaymentStatus.REVERSING,
  PaymentStatus.REVERSED,
]);

/**
 * When IMT posted the run's payment: IMT's own `posted_at` when its answer carried one, else
 * when the run recorded the confirmation. The `state` query of the run (usually still open,
 * asleep); a closed run's result, or the query replayed by a worker when it has none.
 */
async function postedAtOf(temporal: Client, s: ServicePayment): Promise<string | undefined> {
  const handle = temporal.workflow.getHandle(s.workflowId, s.runId);
  let state: TransactionState;
  if (s.running) state = await handle.query(transactionStateQuery);
  else {
    try {
      state = (await handle.result()) as TransactionState;
    } catch {
      state = await handle.query(transactionStateQuery); // terminated or failed: no result
    }
  }
  return typeof state.posted?.posted_at === 'string' ? state.posted.posted_at : state.postedAt;
}
