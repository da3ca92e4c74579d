/**
 * Daily reconciliation (issue 12): per transaction, what IC delivered to this service (its
 * own workflow records) against what IMT holds from IC for that biller day (contracts C4).
 * All data stays in this activity: both sides are paged, the differences stream into a CSV
 * report under DATA_DIR, and only a summary goes back to the workflow (and its history).
 *
 * Which of the service's runs belong to the day (docs/decisions.md "Reconciliation"):
 * - payment runs that **closed** during the day (a posted payment's run closes in the
 *   workflow task that records IMT's confirmation, so its CloseTime is its posting time),
 *   and payment runs **started** during the day that are still running (in flight);
 * - reversal runs started since the day began (a reversal starts after its payment closed),
 *   and void / ACH-reject event runs still running (a reversal on its way).
 * All read from Temporal's visibility store (memo + search attributes: no per-run call).
 * The rare boundary cases are settled per transaction: a posted run that IMT does not list
 * for the day is checked against its exact posting time (its result), and a transaction
 * IMT lists that was not among the day's runs is looked up by its workflow ID.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'csv-stringify';
import {
  toCents,
  dateOfInstant,
  dayBounds,
  PaymentStatus,
  SA,
  workflowIds,
  type PaymentState,
  DIFFERENCE_KINDS,
  ReconcileFailureType,
  ReconcileKind,
  type ReconcileDayInput,
  type ReconcileProgress,
  type ReconcileRow,
  type ReconcileSummary,
  type ReconcileTotals,
} from '../domain';
import type { ImtListedPayment } from '../integrations/imt-payment-types';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log';

/** The report's columns, in order (README "Reconciliation report"). */
export const RECONCILE_CSV_COLUMNS = [
  'date',
  'kind',
  'transaction_id',
  'customer',
  'service_invoice_number',
  'imt_invoice_number',
  'service_amount_cents',
  'imt_amount_cents',
  'service_status',
  'imt_status',
  'detail',
] as const;

/** Statuses of a reversal run that mean "reversed in IMT by us". */
const REVERSED = new Set<string>([
  PaymentStatus.VOIDED,
  PaymentStatus.ACH_REJECTED,
  PaymentStatus.LATE_RETURN,
]);
const SAMPLE_SIZE = 20;
/** Per-transaction lookups (boundary cases, differences) run this many at a time. */
const LOOKUP_CONCURRENCY = 8;
const VISIBILITY_PAGE_SIZE = 1000;

/** A payment run as the service knows it, from visibility (or a describe). */
interface ServicePayment {
  txid: string;
  workflowId: string;
  runId: string;
  customer: string;
  invoice: string;
  cents: number | null;
  /** PaymentStatus search attribute, else the run's execution status. */
  status: string;
  running: boolean;
}

interface ServiceReversal {
  status: string;
  running: boolean;
}

interface ImtSide {
  txid: string;
  customer: string;
  invoice: string;
  cents: number;
  reversalCents: number | null;
  reversal: string | null;
}

export function reportPathFor(dataDir: string, date: string, reportName: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(reportName))
    throw new Error(`invalid report name ${JSON.stringify(reportName)}`);
  return path.join(dataDir, 'reconciliations', date, `${reportName}.csv`);
}

const q = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function centsOrNull(amount: unknown): number | null {
  if (typeof amount !== 'string') return null;
  try {
    return toCents(amount);
  } catch {
    return null;
  }
}

function servicePaymentOf(
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'typedSearchAttributes' | 'status'>,
): ServicePayment {
  const sa = info.typedSearchAttributes;
  const memo = (info.memo ?? {}) as { amount?: unknown };
  const running = info.status.name === 'RUNNING';
  return {
    txid: sa.get(SA.TransactionId) ?? info.workflowId.replace(/^payment-/, ''),
    workflowId: info.workflowId,
    runId: info.runId,
    customer: sa.get(SA.CustomerId) ?? '',
    invoice: sa.get(SA.InvoiceNumber) ?? '',
    cents: centsOrNull(memo.amount),
    // A terminated / failed run is not POSTED whatever its last search attribute says.
    status:
      running || info.status.name === 'COMPLETED'
        ? (sa.get(SA.PaymentStatus) ?? info.status.name)
        : info.status.name,
    running,
  };
}

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

const emptyTotals = (): ReconcileTotals => ({
  deliveredCents: 0,
  postedCents: 0,
  reversedCents: 0,
  netCents: 0,
});

export function createReconcileActivities(deps: ActivityDeps) {
  const client = (): Client => {
    if (!deps.temporalClient)
      throw ApplicationFailure.nonRetryable('worker has no Temporal client configured', 'ConfigError');
    return deps.temporalClient;
  };

  return {
    /** Compares one biller day; writes the CSV report; returns its summary. */
    async reconcileDay(input: ReconcileDayInput): Promise<ReconcileSummary> {
      const ctx = Context.current();
      const log = activityLogger(deps.logger);
      const startedAt = new Date().toISOString();
      const { date, timeZone, taskQueue, pageSize } = input;
      const { start, end } = dayBounds(date, timeZone);
      const temporal = client();
      const progress: ReconcileProgress = {
        phase: 'listing-service',
        serviceRunsListed: 0,
        imtPages: 0,
        imtCount: null,
      };
      const beat = () => ctx.heartbeat(progress);
      beat();

      // ---- The service's side, from visibility ------------------------------------
      const list = async (query: string, each: (info: WorkflowExecutionInfo) => void) => {
        for await (const info of temporal.workflow.list({ query, pageSize: VISIBILITY_PAGE_SIZE })) {
          each(info);
          if (++progress.serviceRunsListed % VISIBILITY_PAGE_SIZE === 0) beat();
        }
      };
      const tq = `TaskQueue = ${q(taskQueue)}`;
      const from = q(start.toISOString());
      const to = q(end.toISOString());
      const service = new Map<string, ServicePayment>();
      await list(
        `WorkflowType = 'paymentWorkflow' AND ${tq} AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew' AND CloseTime >= ${from} AND CloseTime < ${to}`,
        (info) => {
          const p = servicePaymentOf(info);
          service.set(p.txid, p);
        },
      );
      await list(
        `WorkflowType = 'paymentWorkflow' AND ${tq} AND ExecutionStatus = 'Running' AND StartTime >= ${from} AND StartTime < ${to}`,
        (info) => {
          const p = servicePaymentOf(info);
          service.set(p.txid, p);
        },
      );
      const reversals = new Map<string, ServiceReversal>();
      await list(`WorkflowType = 'reversalWorkflow' AND ${tq} AND StartTime >= ${from}`, (info) => {
        const txid =
          info.typedSearchAttributes.get(SA.TransactionId) ?? info.workflowId.replace(/^reversal-/, '');
        const running = info.status.name === 'RUNNING';
        reversals.set(txid, {
          running,
          status:
            running || info.status.name === 'COMPLETED'
              ? (info.typedSearchAttributes.get(SA.PaymentStatus) ?? info.status.name)
              : info.status.name,
        });
      });
      const pendingEvents = new Set<string>();
      await list(`WorkflowType = 'reversalEventWorkflow' AND ${tq} AND ExecutionStatus = 'Running'`, (info) =>
        pendingEvents.add(info.typedSearchAttributes.get(SA.TransactionId) ?? ''),
      );

      // ---- The report: rows stream to disk as they are found ----------------------
      const reportPath = reportPathFor(deps.dataDir, date, input.reportName);
      fs.mkdirSync(path.dirname(reportPath), { recursive: true });
      const tmpPath = `${reportPath}.${process.pid}.${ctx.info.attempt}.tmp`;
      const file = fs.createWriteStream(tmpPath);
      const csv = stringify({ header: true, columns: [...RECONCILE_CSV_COLUMNS] });
      csv.pipe(file);
      const byKind: Partial<Record<ReconcileKind, number>> = {};
      const sample: ReconcileRow[] = [];
      const inFlightSample: ReconcileRow[] = [];
      const writeRow = async (row: ReconcileRow) => {
        byKind[row.kind] = (byKind[row.kind] ?? 0) + 1;
        const keep = row.kind === ReconcileKind.IN_FLIGHT ? inFlightSample : sample;
        if (keep.length < SAMPLE_SIZE) keep.push(row);
        if (!csv.write({ date, ...row })) await once(csv, 'drain');
      };
      const svcTotals = emptyTotals();
      const imtTotals = emptyTotals();
      let matched = 0;
      let transactions = 0;

      const rowFor = (
        kind: ReconcileKind,
        s: ServicePayment | undefined,
        m: ImtSide | undefined,
        detail: string,
        amounts?: { service: number | null; imt: number | null },
        statuses?: { service: string | null; imt: string | null },
      ): ReconcileRow => ({
        kind,
        transaction_id: s?.txid ?? m?.txid ?? '',
        customer: s?.customer || m?.customer || '',
        service_invoice_number: s?.invoice ?? null,
        imt_invoice_number: m?.invoice ?? null,
        service_amount_cents: amounts ? amounts.service : (s?.cents ?? null),
        imt_amount_cents: amounts ? amounts.imt : (m?.cents ?? null),
        service_status: statuses ? statuses.service : (s?.status ?? null),
        imt_status: statuses ? statuses.imt : m ? (m.reversal ?? 'POSTED') : null,
        detail,
      });

      /** A transaction the service posted (IMT confirmed), compared with IMT's record (if any). */
      const comparePosted = async (s: ServicePayment, m: ImtSide | undefined) => {
        const cents = s.cents ?? 0;
        svcTotals.postedCents += cents;
        const rev = reversals.get(s.txid);
        const weReversed = rev !== undefined && !rev.running && REVERSED.has(rev.status);
        if (weReversed) svcTotals.reversedCents += cents;
        if (!m) {
          await writeRow(
            rowFor(
              ReconcileKind.POSTED_NOT_IN_IMT,
              s,
              undefined,
              `posted by the service; IMT does not list it for ${date}` +
                (weReversed ? ` (the service also reversed it: ${rev.status})` : ''),
            ),
          );
          return;
        }
        let same = true;
        const problems: string[] = [];
        if (s.cents !== m.cents)
          problems.push(`amount: service ${s.cents ?? '?'} cents, IMT ${m.cents} cents`);
        if (s.invoice !== m.invoice) problems.push(`invoice: service ${s.invoice}, IMT ${m.invoice}`);
        if (weReversed && m.reversalCents !== null && m.reversalCents !== cents)
          problems.push(`reversal amount: service ${cents} cents, IMT ${m.reversalCents} cents`);
        if (problems.length) {
          same = false;
          await writeRow(rowFor(ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS, s, m, problems.join('; ')));
        }
        // A reversal run still working, or a void / ACH reject not yet resolved: in flight.
        if (!weReversed && (rev?.running === true || pendingEvents.has(s.txid))) {
          await writeRow(
            rowFor(
              ReconcileKind.IN_FLIGHT,
              s,
              m,
              'a void or ACH reject is being applied by the service',
              undefined,
              {
                service: rev?.status ?? PaymentStatus.REVERSING,
                imt: m.reversal ?? 'POSTED',
              },
            ),
          );
          return;
        }
        if (weReversed && m.reversal === null) {
          same = false;
          await writeRow(
            rowFor(
              ReconcileKind.REVERSED_NOT_IN_IMT,
              s,
              m,
              `reversed by the service (${rev.status}); IMT shows no reversal`,
              { service: cents, imt: null },
              { service: rev.status, imt: 'POSTED' },
            ),
          );
        } else if (!weReversed && m.reversal !== null) {
          same = false;
          await writeRow(
            rowFor(
              ReconcileKind.REVERSED_IN_IMT_ONLY,
              s,
              m,
              `IMT shows a reversal (${m.reversal}) the service did not make` +
                (rev ? ` (service reversal run: ${rev.status})` : ''),
              { service: null, imt: m.reversalCents },
              { service: rev?.status ?? s.status, imt: m.reversal },
            ),
          );
        }
        if (same) matched++;
      };

      /** A service run and (maybe) IMT's record of the same transaction. */
      const compare = async (s: ServicePayment, m: ImtSide | undefined) => {
        transactions++;
        svcTotals.deliveredCents += s.cents ?? 0;
        if (s.running) {
          await writeRow(
            rowFor(
              ReconcileKind.IN_FLIGHT,
              s,
              m,
              m ? 'IMT has it; the service has not recorded the posting yet' : 'delivered; not posted yet',
            ),
          );
          return;
        }
        if (s.status !== PaymentStatus.POSTED) {
          if (m)
            await writeRow(
              rowFor(
                ReconcileKind.IN_IMT_NOT_POSTED_BY_US,
                s,
                m,
                `the service received it and did not post it (${s.status}); IMT holds it`,
              ),
            );
          else matched++; // received, not posted, not in IMT: consistent
          return;
        }
        await comparePosted(s, m);
      };

      // ---- IMT's side (C4), paged; matched against the service's runs as it streams --
      progress.phase = 'listing-imt';
      const imtOnly: ImtSide[] = [];
      const seen = new Set<string>();
      const signal = ctx.cancellationSignal;
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
          imtTotals.postedCents += m.cents;
          imtTotals.reversedCents += m.reversalCents ?? 0;
          const s = service.get(m.txid);
          if (s) {
            service.delete(m.txid);
            await compare(s, m);
          } else imtOnly.push(m);
        }
        beat();
        if (!answer.next) break;
      }

      // ---- Per-transaction resolution of what only one side listed --------------------
      progress.phase = 'resolving';
      beat();
      // IMT lists it; the service's run did not close (or start) that day, or never existed.
      await mapLimit(
        imtOnly,
        LOOKUP_CONCURRENCY,
        async (m) => {
          let s: ServicePayment | undefined;
          try {
            const desc = await temporal.workflow.getHandle(workflowIds.payment(m.txid)).describe();
            s = servicePaymentOf(desc);
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
          if (s) await compare(s, m);
          else {
            transactions++;
            await writeRow(
              rowFor(
                ReconcileKind.IN_IMT_NOT_DELIVERED,
                undefined,
                m,
                'IMT holds this IC payment; the service never received it',
              ),
            );
          }
        },
        beat,
      );
      // The service's runs of the day that IMT does not list for it.
      const serviceOnly = [...service.values()];
      service.clear();
      await mapLimit(
        serviceOnly,
        LOOKUP_CONCURRENCY,
        async (s) => {
          if (!s.running && s.status === PaymentStatus.POSTED) {
            // Closed today; IMT may have dated the posting yesterday (confirmed across midnight).
            const state = (await temporal.workflow.getHandle(s.workflowId, s.runId).result()) as PaymentState;
            const postedAt =
              typeof state.posted?.posted_at === 'string' ? state.posted.posted_at : state.postedAt;
            if (
              postedAt &&
              !Number.isNaN(Date.parse(postedAt)) &&
              dateOfInstant(new Date(postedAt), timeZone) !== date
            ) {
              return; // another day's posting: that day's reconciliation compares it
            }
          }
          await compare(s, undefined);
        },
        beat,
      );

      // ---- Totals ----------------------------------------------------------------------
      progress.phase = 'writing';
      beat();
      svcTotals.netCents = svcTotals.postedCents - svcTotals.reversedCents;
      imtTotals.deliveredCents = imtTotals.postedCents;
      imtTotals.netCents = imtTotals.postedCents - imtTotals.reversedCents;
      for (const [name, key] of [
        ['TOTAL_DELIVERED', 'deliveredCents'],
        ['TOTAL_POSTED', 'postedCents'],
        ['TOTAL_REVERSED', 'reversedCents'],
        ['TOTAL_NET', 'netCents'],
      ] as const) {
        const line = {
          date,
          kind: name,
          service_amount_cents: svcTotals[key],
          imt_amount_cents: imtTotals[key],
        };
        if (!csv.write(line)) await once(csv, 'drain');
      }
      csv.end();
      await finished(file);
      fs.renameSync(tmpPath, reportPath);

      const differences = DIFFERENCE_KINDS.reduce((n, k) => n + (byKind[k] ?? 0), 0);
      const summary: ReconcileSummary = {
        date,
        timeZone,
        workflowId: ctx.info.workflowExecution?.workflowId ?? input.reportName,
        reportPath,
        transactions,
        matched,
        differences,
        inFlight: byKind.IN_FLIGHT ?? 0,
        byKind,
        service: svcTotals,
        imt: imtTotals,
        imtPages: progress.imtPages,
        serviceRunsListed: progress.serviceRunsListed,
        sample: [...sample, ...inFlightSample].slice(0, SAMPLE_SIZE),
        startedAt,
        finishedAt: new Date().toISOString(),
        requestedBy: input.requestedBy,
      };
      log.info(
        { date, differences, inFlight: summary.inFlight, transactions, reportPath },
        'reconciliation finished',
      );
      return summary;
    },
  };
}

function imtSideOf(p: ImtListedPayment): ImtSide {
  const reversalCents = p.reversals.length
    ? p.reversals.reduce((sum, r) => sum + toCents(r.amount), 0)
    : null;
  return {
    txid: p.transaction_id,
    customer: p.customer,
    invoice: p.invoice_number,
    cents: toCents(p.amount),
    reversalCents,
    reversal: p.reversals.length
      ? p.reversals
          .map((r) => (r.return_code ? `${r.reversal_type} ${r.return_code}` : r.reversal_type))
          .join(', ')
      : null,
  };
}
