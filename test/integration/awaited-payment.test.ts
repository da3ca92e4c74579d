/**
 * Issue 13 — an event that comes before its payment waits under the payment's own key
 * (workflows/awaited-payment.ts), so the payment intake needs no lookup. On the real dev
 * server, through the ingress, against the IMT simulator: every test asserts IMT's ledger
 * and the runs Temporal holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { PaymentStatus, SA, workflowIds, type PaymentRequest, type PaymentState } from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment, voidOf } from '../helpers/payments';

const POST = '/api/integration/invoice/post-payment';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'awaited', confirmWaitMs: 3000, unknownPaymentWaitMs: 10 * 60_000 });
});
afterAll(async () => {
  await h?.stop();
});

const post = (p: PaymentRequest) => h.http.post(POST, p);
const postVoid = (body: unknown) => h.http.post('/api/integration/invoice/void-payment', body);
const ledger = (txid: string) => h.imt.ledger().filter((e) => e.transaction_id === txid);
const paymentRun = (txid: string, runId?: string) =>
  h.client.workflow.getHandle(workflowIds.payment(txid), runId);

describe('an event before its payment', () => {
  it('waits as the payment’s own run; the payment hands over and is stopped before anything is sent', async () => {
    const p = seedPayment(h.imt, { method: 'credit', amount: '12.34' });
    expect((await postVoid(voidOf(p))).status).toBe(202);

    const awaited = await paymentRun(p.transaction_id).describe();
    expect(awaited.type).toBe('awaitedPaymentWorkflow');
    expect(awaited.status.name).toBe('RUNNING');
    expect(awaited.typedSearchAttributes.get(SA.PaymentStatus)).toBe(PaymentStatus.AWAITING_PAYMENT);
    expect(awaited.memo?.amount).toBeUndefined();
    // The status call and the void's own run both say the payment has not come.
    const view = await h.http.get(`/api/integration/payments/${p.transaction_id}`);
    expect(view.status).toBe(200);
    expect(view.data.status).toBe(PaymentStatus.AWAITING_PAYMENT);

    const res = await post(p);
    expect(res.status).toBe(202);
    const result = (await paymentRun(p.transaction_id).result()) as PaymentState;
    expect(result).toMatchObject({ status: 'VOIDED_BEFORE_POSTING', settlement: 'never-sent', attempts: 0 });
    expect(result.payment).toEqual(p);
    expect(ledger(p.transaction_id)).toEqual([]);

    // One chain: the awaited run continued as the payment run, which carries the payment's memo.
    const first = await paymentRun(p.transaction_id, awaited.runId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    const latest = await paymentRun(p.transaction_id).describe();
    expect(latest.type).toBe('paymentWorkflow');
    expect(latest.memo).toMatchObject({ amount: '12.34', payment_method: 'credit' });
    expect(typeof latest.memo?.fingerprint).toBe('string');
    expect(latest.typedSearchAttributes.get(SA.CustomerId)).toBe(p.customer);
  });

  it('after the hand-over a repeat is answered like any repeat, and other content under the same ID is a 409', async () => {
    const p = seedPayment(h.imt, { method: 'credit', amount: '7.00' });
    // A void with another amount: the payment parks for a person, so the run stays open.
    expect((await postVoid(voidOf(p, { amount: '1.00' }))).status).toBe(202);
    expect((await post(p)).status).toBe(202);
    await eventually(
      async () =>
        (await paymentRun(p.transaction_id).describe()).typedSearchAttributes.get(SA.PaymentStatus) ===
        PaymentStatus.NEEDS_ATTENTION,
    );
    const repeat = await post(p);
    expect(repeat.status).toBe(202);
    expect(repeat.data.status).toBe(PaymentStatus.NEEDS_ATTENTION);
    const other = await post({ ...p, amount: '8.00' });
    expect(other.status).toBe(409);
    expect(ledger(p.transaction_id)).toEqual([]);
  });

  it('never answers 2xx for a payment the awaited run has not taken: 503, then the redelivery lands', async () => {
    const p = seedPayment(h.imt, { method: 'credit', amount: '3.00' });
    expect((await postVoid(voidOf(p))).status).toBe(202);
    await h.stopWorker(); // the awaited run cannot take the payment while no worker runs
    try {
      const res = await post(p);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await h.startWorker();
    }
    // IC redelivers after a 503: now the payment is taken, checked by the void, and stopped.
    const again = await eventually(async () => {
      const r = await post(p);
      return r.status === 202 || r.status === 201 ? r : undefined;
    });
    expect(again.status).toBe(202);
    const result = (await paymentRun(p.transaction_id).result()) as PaymentState;
    expect(result.status).toBe('VOIDED_BEFORE_POSTING');
    expect(ledger(p.transaction_id)).toEqual([]);
  });

  it('a payment run that started first only records a late early-event signal, and posts once', async () => {
    const p = seedPayment(h.imt, { method: 'credit', amount: '5.00' });
    await h.stopWorker(); // holds the payment run open before its first step
    try {
      expect((await post(p)).status).toBe(202);
      // What a void's intake sends when it looked just before the payment started.
      await h.client.workflow.signalWithStart('awaitedPaymentWorkflow', {
        workflowId: workflowIds.payment(p.transaction_id),
        taskQueue: h.taskQueue,
        args: [{ transactionId: p.transaction_id, since: new Date().toISOString() }],
        signal: 'earlyEvent',
        signalArgs: [{ eventId: workflowIds.void(p.transaction_id) }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    } finally {
      await h.startWorker();
    }
    const result = (await paymentRun(p.transaction_id).result()) as PaymentState;
    expect(result.status).toBe(PaymentStatus.POSTED);
    expect(result.events.map((e) => e.event)).toContain('event arrived together with the payment');
    expect((await paymentRun(p.transaction_id).describe()).type).toBe('paymentWorkflow');
    expect(ledger(p.transaction_id).filter((e) => e.kind === 'posting')).toHaveLength(1);
  });
});
