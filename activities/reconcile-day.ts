/**
 * One biller day reconciled, in phases the heartbeat reports (`ReconcileProgress.phase`):
 * the service's runs from visibility and IMT's listing (C4), each paged into a sorted spill
 * on disk (activities/sorted-spill.ts); then both merged by transaction ID — what only one
 * side lists is looked up per transaction, a few at a time — then the totals. Memory holds a
 * page, a spill run and the lookups in flight, never the day: it stays flat as a day grows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  addCalendarDays,
  dayBounds,
  PaymentStatus,
  workflowIds,
  ReconcileFailureType,
  type ReconcileDayInput,
  type ReconcileProgress,
  type ReconcileSummary,
} from '../domain';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log';
import { DayComparison, imtSideOf, type ImtSide, type ServicePayment } from './reconcile-compare';
import { ReconcileReport } from './reconcile-report';
import {
  currentPayment,
  latestRun,
  listServiceSide,
  servicePaymentOf,
  type ListedRun,
} from './reconcile-service-side';
import { SortedCursor, SortedSpill } from './sorted-spill';

/** Per-transaction lookups (boundary cases, differences) run this many at a time. */
const LOOKUP_CONCURRENCY = 8;
/** Heartbeat every this many transactions compared. */
const BEAT_EVERY = 1000;

/** Runs tasks at most `limit` at a time; the first failure fails the next `run` or `drain`. */
class Lookups {
  private readonly running = new Set<Promise<void>>();
  private failure: { err: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        this.failure ??= { err };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }
}

/** Compares one biller day; writes the CSV report; returns its summary. */
export async function reconcileOneDay(
  deps: ActivityDeps,
  temporal: Client,
  input: ReconcileDayInput,
): Promise<ReconcileSummary> {
  const ctx = Context.current();
  const startedAt = new Date().toISOString();
  const { date, timeZone, paymentsTaskQueue: taskQueue } = input;
  const { start, end } = dayBounds(date, timeZone);
  const progress: ReconcileProgress = {
    phase: 'listing-service',
    serviceRunsListed: 0,
    imtPages: 0,
    imtCount: null,
  };
  const beat = () => ctx.heartbeat(progress);
  beat();

  fs.mkdirSync(path.join(deps.dataDir, 'reconciliations'), { recursive: true });
  const spillDir = fs.mkdtempSync(path.join(deps.dataDir, 'reconciliations', `.sort-${date}-`));
  const report = ReconcileReport.open(deps.dataDir, date, input.reportName, ctx.info.attempt);
  let day: DayComparison;
  try {
    const spill = { dir: spillDir, runSize: deps.reconcileSpillRunSize };
    const side = await listServiceSide(temporal, { taskQueue, start, end }, spill, progress, beat);
    day = new DayComparison(date, (row) => report.writeRow(row));
    progress.phase = 'listing-imt';
    const imt = await spillImtListing(deps, input, spill, progress, beat);
    progress.phase = 'comparing';
    beat();
    await compareSorted(deps, temporal, { service: side.runs, imt }, day, { date, timeZone }, beat);
  } finally {
    fs.rmSync(spillDir, { recursive: true, force: true });
  }

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
 * IMT's side (C4), paged into a sorted spill. A listing that changes while it is paged fails
 * the attempt (a retry reads it again).
 */
async function spillImtListing(
  deps: ActivityDeps,
  input: ReconcileDayInput,
  spill: { dir: string; runSize?: number },
  progress: ReconcileProgress,
  beat: () => void,
): Promise<SortedSpill<ImtSide>> {
  const { date, pageSize } = input;
  const imt = new SortedSpill<ImtSide>(spill.dir, 'imt', spill.runSize);
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
    for (const p of answer.results) await imt.add(p.transaction_id, imtSideOf(p));
    beat();
    if (!answer.next) return imt;
  }
}

/**
 * Both sides merged by transaction ID. Each transaction is compared once: both sides listed
 * it → compared now; only IMT → its run looked up by workflow ID; only the service → its
 * posting time checked. IMT's record counts once (its first listing); of the service's runs
 * of a transaction the latest started stands for it (a run continued as new: its current run).
 */
async function compareSorted(
  deps: ActivityDeps,
  temporal: Client,
  sides: { service: SortedSpill<ListedRun>; imt: SortedSpill<ImtSide> },
  day: DayComparison,
  when: { date: string; timeZone: string },
  beat: () => void,
): Promise<void> {
  const service = new SortedCursor(sides.service.sorted());
  const imt = new SortedCursor(sides.imt.sorted());
  const lookups = new Lookups(LOOKUP_CONCURRENCY);
  for (let n = 1; ; n++) {
    const [s, m] = [await service.peek(), await imt.peek()];
    if (!s && !m) break;
    const key = s && (!m || s[0] <= m[0]) ? s[0] : (m as [string, ImtSide])[0];
    const run = s?.[0] === key ? latestRun((await service.takeKey())?.values ?? []) : undefined;
    const mp = m?.[0] === key ? (await imt.takeKey())?.values[0] : undefined;
    if (mp) day.countImt(mp);
    if (run?.continuedAsNew) {
      // Its current run is described first: a lookup like the one-sided ones.
      await lookups.run(async () => {
        const sp = await currentPayment(temporal, run);
        if (mp) await day.compare(sp, mp);
        else await resolveServiceOnly(deps, sp, day, when);
      });
    } else if (run && mp) await day.compare(run.payment, mp);
    else if (mp) await lookups.run(() => resolveImtOnly(temporal, mp, day));
    else if (run) await lookups.run(() => resolveServiceOnly(deps, run.payment, day, when));
    if (n % BEAT_EVERY === 0) beat();
  }
  await lookups.drain();
}

/** IMT lists it; the service's run did not start that day, or never existed. */
async function resolveImtOnly(temporal: Client, m: ImtSide, day: DayComparison): Promise<void> {
  let s: ServicePayment | undefined;
  try {
    s = servicePaymentOf(await temporal.workflow.getHandle(workflowIds.payment(m.txid)).describe());
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  if (s) await day.compare(s, m);
  else await day.notDelivered(m);
}

/**
 * A service run of the day that IMT does not list for it. When the run says IMT confirmed the
 * payment, IMT itself is asked for that one transaction (C4's `transaction_id` filter, the day
 * before to the day after): holding it while its listing of this day did not, IMT dates it
 * another day (a posting confirmed across midnight; IMT dates by its own clock and zone), and
 * that day's reconciliation compares it. IMT answers this, not the run: a query would make the
 * payments pool's worker wake (often replay) the run, and bulk work must not take payments'
 * slots.
 */
async function resolveServiceOnly(
  deps: ActivityDeps,
  s: ServicePayment,
  day: DayComparison,
  when: { date: string; timeZone: string },
): Promise<void> {
  if (POSTED_STATUSES.has(s.status) && (await imtHolds(deps, s.txid, when.date))) return;
  await day.compare(s, undefined);
}

const POSTED_STATUSES = new Set<string>([
  PaymentStatus.POSTED,
  PaymentStatus.REVERSING,
  PaymentStatus.REVERSED,
]);

/** Whether IMT lists `txid` as posted from the day before `date` to the day after. */
async function imtHolds(deps: ActivityDeps, txid: string, date: string): Promise<boolean> {
  try {
    const found = await deps.imt.findPayment(
      txid,
      { postedFrom: addCalendarDays(date, -1), postedTo: addCalendarDays(date, 1) },
      Context.current().cancellationSignal,
    );
    return found !== null;
  } catch (err) {
    throw toActivityFailure(err, { authRetryDelayMs: deps.authRetryDelayMs });
  }
}
