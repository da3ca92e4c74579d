/** Contracts B `…/<invoice_number>/adjusted`: IMT's live balance reaches IC. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCycle } from '../../simulators/imt/dataset';
import {
  AdjustmentStatus,
  invoiceAdjustedSignal,
  invoiceAdjustedWorkflowId,
  invoiceAdjustmentStateQuery,
  taskQueueOfPool,
} from '../../domain';
import type { invoiceAdjustmentWorkflow } from '../../workflows/invoice-adjustment';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';

const CYCLE = { seed: 7, invoiceMonth: '2022-09-01', count: 30, invalidEvery: 0 };
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'adjusted', withIc: true, cycles: [CYCLE] });
});
afterAll(async () => {
  await h?.stop();
});

describe('invoice adjusted in IMT', () => {
  it('sends the invoice’s new balance to IC as a one-row invoice file', async () => {
    const invoice = generateCycle(CYCLE).invoiceAt(3);
    const paid = await h.http.post('/api/integration/invoice/post-payment', {
      customer: invoice.customer,
      invoice_number: invoice.invoice_number,
      transaction_id: uniqueId('T'),
      amount: '1.00',
      payment_method: 'credit',
      message: '',
      source: 'invoice_cloud',
    });
    expect(paid.status).toBe(201);
    const live = await h.deps.imt.getInvoiceDetail(invoice.invoice_number);

    const res = await h.http.post(`/api/integration/invoice/${invoice.invoice_number}/adjusted`, {
      reason: 'payment posted',
    });
    expect(res.status).toBe(202);
    expect(res.data).toMatchObject({ invoice_number: invoice.invoice_number, status: 'ACCEPTED' });

    const held = await eventually(async () => h.ic!.invoices().get(invoice.invoice_number));
    expect(held).toMatchObject({ balanceDue: live.amount_due, accountNumber: invoice.customer });
    const uploads = h.ic!.uploads();
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatchObject({ invoiceCount: 1, success: true });
    expect(uploads[0].fileName).toMatch(
      new RegExp(`^adjustment_${invoice.invoice_number}_[0-9a-f]{32}-1\\.txt$`),
    );
    // The run lingers a minute to fold further changes into one upload; end it here.
    await h.client.workflow
      .getHandle(invoiceAdjustedWorkflowId(invoice.invoice_number))
      .terminate('test done');
  });

  it('continues as new between rounds once its history is long, carrying the change that woke it', async () => {
    const invoice = generateCycle(CYCLE).invoiceAt(7);
    const n = invoice.invoice_number;
    const workflowId = invoiceAdjustedWorkflowId(n);
    // As the ingress starts it, with a short history limit: one round already exceeds it.
    const first = await h.client.workflow.signalWithStart<
      typeof invoiceAdjustmentWorkflow,
      [{ reason?: string }]
    >('invoiceAdjustmentWorkflow', {
      workflowId,
      // The bulk pool's queue, where the ingress starts it (its activities are registered there only).
      taskQueue: taskQueueOfPool(h.taskQueue, 'bulk'),
      args: [n, { timing: { maxHistoryEvents: 20, quietMs: 200 } }],
      signal: invoiceAdjustedSignal,
      signalArgs: [{ reason: 'first' }],
    });
    const state = () => h.client.workflow.getHandle(workflowId).query(invoiceAdjustmentStateQuery);
    try {
      await eventually(async () => (await state()).status === AdjustmentStatus.VERIFIED);
      const firstRun = await h.client.workflow.getHandle(workflowId, first.signaledRunId).describe();
      expect(firstRun.status.name).toBe('RUNNING');
      expect(firstRun.historyLength).toBeGreaterThan(20);

      // The next change finds the history long: the run continues as new and the new run sends it.
      await h.http.post('/api/integration/invoice/post-payment', {
        customer: invoice.customer,
        invoice_number: n,
        transaction_id: uniqueId('T'),
        amount: '2.00',
        payment_method: 'credit',
        message: '',
        source: 'invoice_cloud',
      });
      const live = await h.deps.imt.getInvoiceDetail(n);
      expect((await h.http.post(`/api/integration/invoice/${n}/adjusted`, { reason: 'second' })).status).toBe(
        202,
      );
      const after = await eventually(async () => {
        const s = await state();
        return s.status === AdjustmentStatus.VERIFIED && s.syncs.length === 2 ? s : undefined;
      });
      expect(
        (await h.client.workflow.getHandle(workflowId, first.signaledRunId).describe()).status.name,
      ).toBe('CONTINUED_AS_NEW');
      expect((await h.client.workflow.getHandle(workflowId).describe()).runId).not.toBe(first.signaledRunId);
      expect(after.reasons).toEqual(['first', 'second']);
      expect(after.syncs.at(-1)?.balanceDue).toBe(live.amount_due);
      expect(h.ic!.invoices().get(n)?.balanceDue).toBe(live.amount_due);
      expect(h.ic!.uploads().filter((u) => u.fileName.startsWith(`adjustment_${n}_`))).toHaveLength(2);
    } finally {
      await h.client.workflow
        .getHandle(workflowId)
        .terminate('test done')
        .catch(() => undefined);
    }
  });

  it('validates the call', async () => {
    expect((await h.http.post('/api/integration/invoice/040620220901/adjusted', { why: 'x' })).status).toBe(
      400,
    );
    expect((await h.http.get('/api/integration/invoice/040620220901/adjusted')).status).toBe(405);
    const noAuth = await h.http.post(
      '/api/integration/invoice/040620220901/adjusted',
      {},
      { headers: { 'X-Integrator-ID': 'wrong' } },
    );
    expect(noAuth.status).toBe(403);
  });
});
