/**
 * Reconciliation streams both sides (activities/reconcile-day.ts, sorted-spill.ts) on the
 * real dev server: with sorted runs of 3 records and IMT pages of 4, both sides of the day —
 * the service's transaction runs from visibility (one run per transaction, its reversal read
 * from the same run), IMT's C4 listing — span several run files on disk, which are merged by
 * transaction ID. The result must be exactly what
 * the day holds: each one-sided transaction reported once, every other one matched, totals
 * to the cent, and no sort file left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReconcileReport, runReconciliation } from '../../client/reconcile';
import {
  dateOfInstant,
  PaymentStatus,
  ReconcileKind,
  SA,
  TRANSACTION_WORKFLOW_TYPE,
  workflowIds,
  type PaymentRequest,
} from '../../domain';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

/** A fixed-offset zone in which it is about noon now, so "today" cannot change under the test. */
function noonZone(): string {
  let offset = 12 - new Date().getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}
const TZ = noonZone();
const TODAY = dateOfInstant(new Date(), TZ);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'reconcile-streaming', reconcileSpillRunSize: 3 });
  h.imt.payments.setBillerTimeZone(TZ);
});
afterAll(() => h?.stop());

async function post(amount: string): Promise<PaymentRequest> {
  const p = seedPayment(h.imt, { amount });
  expect((await h.http.post('/api/integration/invoice/post-payment', p)).status).toBe(201);
  return p;
}

describe('reconciliation through sorted spills', () => {
  it('compares a day spread over many run files exactly as the day holds it', async () => {
    const posted: PaymentRequest[] = [];
    for (let i = 1; i <= 11; i++) posted.push(await post(`${i}.00`));
    // Two voided through the service (both sides agree).
    for (const p of posted.slice(0, 2)) {
      const { customer, invoice_number, transaction_id, amount } = p;
      const res = await h.http.post('/api/integration/invoice/void-payment', {
        customer,
        invoice_number,
        transaction_id,
        amount,
        message: '',
      });
      expect([201, 202]).toContain(res.status);
      // The transaction's own run reverses the payment in IMT, then closes.
      await eventually(async () => {
        const d = await h.client.workflow.getHandle(workflowIds.payment(transaction_id)).describe();
        return (
          d.status.name === 'COMPLETED' &&
          d.typedSearchAttributes.get(SA.PaymentStatus) === PaymentStatus.REVERSED
        );
      });
    }
    // Two deleted in IMT behind the service's back.
    const missing = posted.slice(9).map((p) => p.transaction_id);
    for (const txid of missing) h.imt.payments.remove(txid);
    // Five entered by hand in IMT, never delivered.
    const manual = Array.from({ length: 5 }, (_, i) => {
      const txid = uniqueId(`T-manual-${i}`);
      h.imt.payments.postDirectly({
        transaction_id: txid,
        customer: 'C-M',
        invoice_number: 'C-M20220901',
        amount: '0.25',
      });
      return txid;
    });
    // Visibility is updated asynchronously, and a posted run stays open (asleep for a void):
    // wait until it lists the 11 transaction runs by status — what reconciliation reads.
    const runs = `TaskQueue = '${h.taskQueue}' AND WorkflowType = '${TRANSACTION_WORKFLOW_TYPE}'`;
    await eventually(
      async () =>
        (await h.client.workflow.count(`${runs} AND PaymentStatus = 'POSTED'`)).count === 9 &&
        (await h.client.workflow.count(`${runs} AND PaymentStatus = 'REVERSED'`)).count === 2,
    );

    const summary = await runReconciliation(
      { client: h.client, taskQueue: h.taskQueue, timeZone: TZ },
      TODAY,
      {
        pageSize: 4,
      },
    );
    const rows = readReconcileReport(summary.reportPath)
      .rows.map((r) => [r.kind, r.transaction_id])
      .sort();
    expect(rows).toEqual(
      [
        ...missing.map((t) => [ReconcileKind.POSTED_NOT_IN_IMT, t]),
        ...manual.map((t) => [ReconcileKind.IN_IMT_NOT_DELIVERED, t]),
      ].sort(),
    );
    expect(summary).toMatchObject({
      transactions: 16,
      matched: 9,
      differences: 7,
      imtPages: 4, // 9 + 5 = 14 records, 4 a page
      service: { deliveredCents: 6600, postedCents: 6600, reversedCents: 300, netCents: 6300 },
      imt: { deliveredCents: 4625, postedCents: 4625, reversedCents: 300, netCents: 4325 },
    });
    const left = fs.readdirSync(path.join(h.dataDir, 'reconciliations'));
    expect(left.filter((f) => f.startsWith('.sort-'))).toEqual([]);
  }, 120_000);
});
