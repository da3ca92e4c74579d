/**
 * Adjustments are verified, not assumed (issue 12 item 2): a burst of changes to one
 * invoice becomes one upload, and the run checks with ViewInvoiceByInvoiceNumber that IC
 * shows IMT's balance — re-asking while IC loads asynchronously, and parking with one
 * alert when IC keeps showing a stale balance. Real dev server, real IC simulator.
 *
 * Invoices come from a month no other test file uses: `invoice-adjusted-<n>` is namespace-wide.
 */
import { withUpdateRetry } from '../../common/update-retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCycle } from '../../simulators/imt/dataset';
import {
  AdjustmentStatus,
  invoiceAdjustedWorkflowId,
  type InvoiceAdjustmentState,
  dismissUpdate,
  invoiceAdjustmentStateQuery,
} from '../../domain';
import { startAlertedHarness, stopAlertedHarness } from '../helpers/alerted-harness';
import type { SlackAlertSink } from '../helpers/slack-alerts';
import { eventually, uniqueId, type Harness } from '../helpers/harness';

const CYCLE = { seed: 61, invoiceMonth: '2024-07-01', count: 10, invalidEvery: 0 };

// Alike in shape across the alerted tests on purpose: each file starts its own harness, task queue and cycles.
let h: Harness;
let slack: SlackAlertSink;

beforeAll(async () => {
  ({ h, slack } = await startAlertedHarness({
    name: 'adjustment-verified',
    withIc: true,
    cycles: [CYCLE],
    icBalanceCheck: { intervalMs: 200, attempts: 15 },
  }));
});

afterAll(() => stopAlertedHarness(h, slack));

const uploadsOf = (invoiceNumber: string) =>
  h.ic!.uploads().filter((u) => u.fileName.startsWith(`adjustment_${invoiceNumber}_`));
const stateOf = (invoiceNumber: string) =>
  h.client.workflow.getHandle(invoiceAdjustedWorkflowId(invoiceNumber)).query(invoiceAdjustmentStateQuery);

async function pay(invoiceNumber: string, customer: string, amount: string): Promise<void> {
  const res = await h.http.post('/api/integration/invoice/post-payment', {
    customer,
    invoice_number: invoiceNumber,
    transaction_id: uniqueId('T'),
    amount,
    payment_method: 'credit',
    message: '',
    source: 'invoice_cloud',
  });
  expect(res.status).toBe(201);
}

describe('verified balance updates', () => {
  it('a burst of changes ends in one upload, and IC is checked until it shows the balance', async () => {
    const invoice = generateCycle(CYCLE).invoiceAt(1);
    const n = invoice.invoice_number;
    // IC shows a load only 1 s after the upload: the first checks see the old state.
    h.ic!.icFaults.set({ loadDelayMs: 1000 });
    try {
      for (let i = 0; i < 4; i += 1) {
        await pay(n, invoice.customer, '1.00');
        const res = await h.http.post(`/api/integration/invoice/${n}/adjusted`, {
          reason: `payment ${i + 1}`,
        });
        expect(res.status).toBe(202);
      }
      const live = await h.deps.imt.getInvoiceDetail(n);
      const verified = await eventually(async () => {
        const s = await stateOf(n);
        return s.status === AdjustmentStatus.VERIFIED ? s : undefined;
      });
      expect(uploadsOf(n)).toHaveLength(1);
      expect(verified.syncs).toEqual([expect.objectContaining({ balanceDue: live.amount_due })]);
      expect(verified.reasons).toEqual(['payment 1', 'payment 2', 'payment 3', 'payment 4']);
      // IC was asked more than once (the load took a second) and then agreed.
      expect(verified.checks).toEqual([
        expect.objectContaining({ verified: true, icBalanceDue: live.amount_due }),
      ]);
      expect(verified.checks![0].checks).toBeGreaterThan(1);
      expect(h.ic!.invoices().get(n)?.balanceDue).toBe(live.amount_due);
      expect(slack.of(invoiceAdjustedWorkflowId(n))).toHaveLength(0);
    } finally {
      h.ic!.icFaults.clear();
      await h.client.workflow.getHandle(invoiceAdjustedWorkflowId(n)).terminate('test done');
    }
  });

  it('IC keeps a stale balance: the run parks in NEEDS_ATTENTION with one alert', async () => {
    const invoice = generateCycle(CYCLE).invoiceAt(2);
    const n = invoice.invoice_number;
    const workflowId = invoiceAdjustedWorkflowId(n);
    // First a verified update, so IC holds a balance; then IC stops applying loads.
    expect((await h.http.post(`/api/integration/invoice/${n}/adjusted`, {})).status).toBe(202);
    await eventually(async () => (await stateOf(n)).status === AdjustmentStatus.VERIFIED);
    const before = h.ic!.invoices().get(n)!.balanceDue;
    h.ic!.icFaults.set({ loadDelayMs: null });
    try {
      await pay(n, invoice.customer, '2.00');
      expect((await h.http.post(`/api/integration/invoice/${n}/adjusted`, { reason: 'paid' })).status).toBe(
        202,
      );
      const parked: InvoiceAdjustmentState = await eventually(async () => {
        const s = await stateOf(n);
        return s.status === AdjustmentStatus.NEEDS_ATTENTION ? s : undefined;
      }, 60_000);
      const live = await h.deps.imt.getInvoiceDetail(n);
      expect(parked.syncs.map((s) => s.balanceDue)).toEqual([before, live.amount_due]);
      expect(parked.checks?.at(-1)).toMatchObject({ verified: false, checks: 15, icBalanceDue: before });
      expect(parked.lastError?.type).toBe('IcBalanceMismatch');
      expect(uploadsOf(n)).toHaveLength(2);
      const sent = await eventually(async () => {
        const a = slack.of(workflowId);
        return a.length > 0 ? a : undefined;
      });
      expect(sent).toHaveLength(1);
      expect(sent[0].title).toContain(`Balance update of invoice ${n} needs attention`);

      await withUpdateRetry(() =>
        h.client.workflow
          .getHandle(workflowId)
          .executeUpdate(dismissUpdate, { args: [{ reason: 'fixed in IC by hand' }] }),
      );
      const done = await h.client.workflow.getHandle(workflowId).result();
      expect(done).toMatchObject({
        status: AdjustmentStatus.DISMISSED,
        closingReason: 'fixed in IC by hand',
      });
      expect(slack.of(workflowId)).toHaveLength(1);
    } finally {
      h.ic!.icFaults.clear();
    }
  });
});
