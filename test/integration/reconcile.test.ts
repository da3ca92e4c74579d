/**
 * Daily reconciliation on the real dev server: payments, voids and parked payments go
 * through the real ingress, worker and IMT simulator; then IMT is changed behind the
 * service's back (the simulator's out-of-band hooks) with one case of every kind of
 * difference. The report must list exactly those rows — no more, no fewer — with totals
 * to the cent; the CLI exits 0 when the sides agree and 1 when they differ; the Schedule
 * reconciles each date once.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../client/cli/main';
import {
  createOrUpdateReconcileSchedule,
  deleteReconcileSchedule,
  readReconcileReport,
  runReconciliation,
} from '../../client/reconcile';
import {
  addCalendarDays,
  dateOfInstant,
  startOfDay,
  PaymentStatus,
  TRANSACTION_WORKFLOW_TYPE,
  dismissUpdate,
  workflowIds,
  type PaymentRequest,
  ReconcileKind,
  reconcileWorkflowId,
  SA,
  type ReconcileSummary,
  type ScheduledReconcileOutcome,
} from '../../domain';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { testPayloadKeys } from '../helpers/payload-keys';
import { seedPayment } from '../helpers/payments';

/**
 * A fixed-offset zone in which it is about noon now, so "today" cannot change under the
 * test (Etc/GMT+4 is UTC-4: POSIX signs are inverted).
 */
function noonZone(): string {
  let offset = 12 - new Date().getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

const TZ = noonZone();
const TODAY = dateOfInstant(new Date(), TZ);

let h: Harness;
let receiver: FastifyInstance;
const alerts: string[] = [];

beforeAll(async () => {
  receiver = Fastify();
  receiver.post('/alerts', async (req) => {
    alerts.push(String((req.body as { text?: unknown }).text));
    return 'ok';
  });
  await receiver.listen({ port: 0, host: '127.0.0.1' });
  const addr = receiver.server.address();
  h = await startHarness({
    name: 'reconcile',
    confirmWaitMs: 5000,
    alertWebhookUrl: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/alerts`,
  });
  h.imt.payments.setBillerTimeZone(TZ);
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

async function post(amount: string): Promise<PaymentRequest> {
  const p = seedPayment(h.imt, { amount });
  const res = await h.http.post('/api/integration/invoice/post-payment', p);
  expect(res.status).toBe(201);
  return p;
}

async function voidAndWait(p: PaymentRequest): Promise<void> {
  const { customer, invoice_number, transaction_id, amount } = p;
  const res = await h.http.post('/api/integration/invoice/void-payment', {
    customer,
    invoice_number,
    transaction_id,
    amount,
    message: '',
  });
  expect([201, 202]).toContain(res.status);
  // The transaction's run reverses the payment in IMT, then closes.
  await eventually(async () => {
    const d = await h.client.workflow.getHandle(workflowIds.payment(transaction_id)).describe();
    return (
      d.status.name === 'COMPLETED' &&
      d.typedSearchAttributes.get(SA.PaymentStatus) === PaymentStatus.REVERSED
    );
  });
}

/** A payment IMT refuses: its run parks in NEEDS_ATTENTION (running). */
async function parked(amount: string): Promise<PaymentRequest> {
  const p = seedPayment(h.imt, { amount });
  h.imt.rejectPostsFor(p.invoice_number, { invoice_number: ['Invoice is closed.'] });
  const res = await h.http.post('/api/integration/invoice/post-payment', p);
  expect(res.status).toBe(400);
  return p;
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliOn(false, ...args);
}

/** `isTTY`: stderr is a terminal (progress is drawn there). */
async function cliOn(isTTY: boolean, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['node', 'imt-ic', ...args], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    isTTY,
    env: {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      // Payloads are encrypted: the CLI needs this run's keys, like every client (contracts A).
      PAYLOAD_KEYS: testPayloadKeys(),
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      BILLER_TIME_ZONE: TZ,
      DATA_DIR: h.dataDir,
    },
  });
  return { code, out, err };
}

/**
 * Visibility is updated asynchronously, and a posted run stays open (asleep for a void): wait
 * until it lists exactly these transaction runs, by status — what reconciliation reads.
 */
async function settled(expected: Partial<Record<PaymentStatus, number>>): Promise<void> {
  const runs = `TaskQueue = '${h.taskQueue}' AND WorkflowType = '${TRANSACTION_WORKFLOW_TYPE}'`;
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  await eventually(async () => {
    if ((await h.client.workflow.count(runs)).count !== total) return false;
    for (const [status, n] of Object.entries(expected))
      if ((await h.client.workflow.count(`${runs} AND PaymentStatus = '${status}'`)).count !== n)
        return false;
    return true;
  });
}

const differenceAlerts = () => alerts.filter((a) => a.includes('IC and IMT differ'));

describe('reconcile a day', () => {
  let agreed: { p1: PaymentRequest; p2: PaymentRequest };

  it('agrees when IMT holds exactly what the service posted and reversed (CLI exit 0)', async () => {
    agreed = { p1: await post('50.00'), p2: await post('20.00') };
    await voidAndWait(agreed.p2);
    // p1's run stays open, asleep, while a void can come: posted all the same.
    await settled({ POSTED: 1, REVERSED: 1 });

    const run = await cli('reconcile', '--date', TODAY);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain(`${TODAY}: IC and IMT agree (2 transactions)`);

    const json = await cli('reconcile', '--date', TODAY, '--json');
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.out) as ReconcileSummary;
    expect(summary).toMatchObject({
      date: TODAY,
      timeZone: TZ,
      transactions: 2,
      matched: 2,
      differences: 0,
      inFlight: 0,
      service: { deliveredCents: 7000, postedCents: 7000, reversedCents: 2000, netCents: 5000 },
      imt: { deliveredCents: 7000, postedCents: 7000, reversedCents: 2000, netCents: 5000 },
    });
    expect(readReconcileReport(summary.reportPath).rows).toEqual([]);
    expect(differenceAlerts()).toEqual([]);
  });

  it('reports each kind of difference exactly once, with totals to the cent (CLI exit 1)', async () => {
    // In IMT, never delivered: a person entered an IC payment by hand.
    const a = uniqueId('T-manual');
    h.imt.payments.postDirectly({
      transaction_id: a,
      customer: 'C-A',
      invoice_number: 'C-A20220901',
      amount: '12.34',
    });
    // Posted by us, then deleted in IMT.
    const b = await post('30.00');
    h.imt.payments.remove(b.transaction_id);
    // Amount altered in IMT; invoice altered in IMT.
    const c = await post('40.00');
    h.imt.payments.alter(c.transaction_id, { amount: '41.00' });
    const c2 = await post('15.00');
    h.imt.payments.alter(c2.transaction_id, { invoice_number: 'ELSEWHERE20220901' });
    // Voided by us; the reversal was deleted in IMT.
    const d = await post('25.00');
    await voidAndWait(d);
    h.imt.payments.removeReversal(d.transaction_id);
    // Reversed directly in IMT, never by us.
    const e = await post('60.00');
    h.imt.payments.reverseDirectly({ transaction_id: e.transaction_id, reversal_type: 'void' });
    // Received and dismissed by an operator, but IMT holds it (entered by hand).
    const f = await parked('11.00');
    await h.client.workflow
      .getHandle(workflowIds.payment(f.transaction_id))
      .executeUpdate(dismissUpdate, { args: [{ reason: 'entered by hand in IMT', by: 'test' }] });
    await eventually(async () => {
      const desc = await h.client.workflow.getHandle(workflowIds.payment(f.transaction_id)).describe();
      return desc.status.name === 'COMPLETED';
    });
    h.imt.payments.postDirectly({ ...f, amount: '11.00' });
    // Still in flight: parked, running, not in IMT.
    const g = await parked('13.00');
    // Posted by us; IMT dated the posting the next day (confirmed across midnight): IMT is
    // asked for it, and the next day's reconciliation compares it — no row today.
    const next = await post('17.00');
    h.imt.payments.alter(next.transaction_id, {
      posted_at: new Date(startOfDay(addCalendarDays(TODAY, 1), TZ).getTime() + 60_000).toISOString(),
    });
    await settled({ POSTED: 6, REVERSED: 2, DISMISSED: 1, NEEDS_ATTENTION: 1 });

    const summary = await runReconciliation(
      { client: h.client, taskQueue: h.taskQueue, timeZone: TZ },
      TODAY,
    );
    const report = readReconcileReport(summary.reportPath);
    const rows = report.rows.map((r) => [r.kind, r.transaction_id]).sort();
    expect(rows).toEqual(
      [
        [ReconcileKind.IN_IMT_NOT_DELIVERED, a],
        [ReconcileKind.POSTED_NOT_IN_IMT, b.transaction_id],
        [ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS, c.transaction_id],
        [ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS, c2.transaction_id],
        [ReconcileKind.REVERSED_NOT_IN_IMT, d.transaction_id],
        [ReconcileKind.REVERSED_IN_IMT_ONLY, e.transaction_id],
        [ReconcileKind.IN_IMT_NOT_POSTED_BY_US, f.transaction_id],
        [ReconcileKind.IN_FLIGHT, g.transaction_id],
      ].sort(),
    );
    const row = (txid: string) => report.rows.find((r) => r.transaction_id === txid)!;
    expect(row(c.transaction_id)).toMatchObject({ service_amount_cents: 4000, imt_amount_cents: 4100 });
    expect(row(c2.transaction_id)).toMatchObject({
      service_invoice_number: c2.invoice_number,
      imt_invoice_number: 'ELSEWHERE20220901',
    });
    expect(row(f.transaction_id).service_status).toBe(PaymentStatus.DISMISSED);
    expect(row(g.transaction_id).service_status).toBe(PaymentStatus.NEEDS_ATTENTION);

    // Service: delivered = every payment it received that day; posted = IMT confirmed; reversed = its voids.
    const service = { deliveredCents: 26400, postedCents: 24000, reversedCents: 4500, netCents: 19500 };
    // IMT: the payments it lists for the day (b deleted; a, f entered by hand; c altered) and their reversals.
    const imt = { deliveredCents: 23434, postedCents: 23434, reversedCents: 8000, netCents: 15434 };
    expect(report.totals).toEqual({ service, imt });
    expect(summary).toMatchObject({
      transactions: 10,
      matched: 2,
      differences: 7,
      inFlight: 1,
      service,
      imt,
      byKind: {
        IN_IMT_NOT_DELIVERED: 1,
        IN_IMT_NOT_POSTED_BY_US: 1,
        POSTED_NOT_IN_IMT: 1,
        AMOUNT_OR_INVOICE_DIFFERS: 2,
        REVERSED_NOT_IN_IMT: 1,
        REVERSED_IN_IMT_ONLY: 1,
        IN_FLIGHT: 1,
      },
    });
    expect(differenceAlerts()).toHaveLength(1);

    // The UI's current details carry the summary.
    const metadata = await h.client.workflow
      .getHandle(summary.workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain(`**7 differences** for ${TODAY}`);
    expect(metadata.currentDetails).toContain('| IMT | 234.34 | 234.34 | 80.00 | 154.34 |');

    // CLI: a fresh run, one row per difference naming the transaction, exit 1; `show` alike.
    const run = await cli('reconcile', '--date', TODAY);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`IC and IMT differ: ${TODAY} (7)`);
    for (const txid of [a, b, c, c2, d, e, f, g].map((x) => (typeof x === 'string' ? x : x.transaction_id)))
      expect(run.out).toContain(txid);
    expect(run.out).toContain(`${TODAY}: 7 differences`);
    expect(run.out).not.toContain(agreed.p1.transaction_id);
    const shown = await cli('reconcile', 'show', TODAY);
    console.log(shown.out);
    expect(shown.code).toBe(1);
    expect(shown.out).toContain(a);
    expect(differenceAlerts()).toHaveLength(2);

    // An empty day agrees; a day never reconciled is "not found"; bad input is a usage error.
    expect(
      (await cli('reconcile', '--from', addCalendarDays(TODAY, -3), '--to', addCalendarDays(TODAY, -2))).code,
    ).toBe(0);
    expect((await cli('reconcile', 'show', '2001-01-01')).code).toBe(3);
    expect((await cli('reconcile', '--date', '2022-02-30')).code).toBe(2);
    expect((await cli('reconcile')).code).toBe(2);
  });

  it('shows where a long day is on a terminal, like `export start --wait`', async () => {
    // IMT answers its payments listing slowly: the run is still reading while the CLI looks.
    h.imt.faults.set({ latencyMs: 1500, routes: ['/api/integration/payments'] });
    try {
      const run = await cliOn(true, 'reconcile', '--date', TODAY);
      expect(run.err).toMatch(
        new RegExp(`\\r\\x1b\\[2Kreconciling ${TODAY}: (listing the service's runs|reading IMT's payments)`),
      );
      expect(run.out).toContain(`${TODAY}: 7 differences`);
    } finally {
      h.imt.faults.clear();
    }
  });
});

describe('the daily schedule', () => {
  const scheduleId = uniqueId('reconcile-daily-test');
  afterAll(async () => {
    await deleteReconcileSchedule(h.client, scheduleId).catch(() => undefined);
  });

  it('reconciles the previous day in the biller’s zone, once per date', async () => {
    await createOrUpdateReconcileSchedule(h.client, {
      scheduleId,
      taskQueue: h.taskQueue,
      timeZone: TZ,
      hour: 4,
      minute: 0,
      paused: true,
    });
    // One firing, 2021-06-02 04:00 in TZ → reconcile-2021-06-01; then the same firing again.
    const firing = new Date(startOfDay('2021-06-02', TZ).getTime() + 4 * 3600_000);
    const backfill = () =>
      h.client.schedule.getHandle(scheduleId).backfill({
        start: new Date(firing.getTime() - 1800_000),
        end: new Date(firing.getTime() + 1800_000),
        overlap: ScheduleOverlapPolicy.ALLOW_ALL,
      });
    await backfill();
    const outcome = async (index: number) => {
      const action = await eventually(async () => {
        const d = await h.client.schedule.getHandle(scheduleId).describe();
        return d.info.recentActions[index];
      });
      return (await h.client.workflow
        .getHandle(action.action.workflow.workflowId)
        .result()) as ScheduledReconcileOutcome;
    };
    expect(await outcome(0)).toMatchObject({
      date: '2021-06-01',
      workflowId: reconcileWorkflowId('2021-06-01'),
      started: true,
    });
    const summary = (await h.client.workflow
      .getHandle(reconcileWorkflowId('2021-06-01'))
      .result()) as ReconcileSummary;
    expect(summary).toMatchObject({ date: '2021-06-01', differences: 0, transactions: 0 });

    await backfill();
    expect(await outcome(1)).toMatchObject({ date: '2021-06-01', started: false });
  });
});
