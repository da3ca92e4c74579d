/**
 * Payment posting end to end on the real dev server: ingress → workflow → activity →
 * IMT simulator. Assertions are on what the IMT simulator recorded, what the ingress
 * answered and what Temporal holds (result, search attributes, history).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaymentStatus, SA, workflowIds, type PaymentState, paymentStateQuery } from '../../domain';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

let h: Harness;

const newPayment = () => seedPayment(h.imt);

const post = (body: unknown) => h.http.post('/api/integration/invoice/post-payment', body);
const postingsOf = (txid: string) => h.imt.postings().filter((p) => p.transaction_id === txid);
const stateOf = (txid: string) =>
  h.client.workflow.getHandle(workflowIds.payment(txid)).query(paymentStateQuery) as Promise<PaymentState>;
const statusAttr = async (txid: string) =>
  (await h.client.workflow.getHandle(workflowIds.payment(txid)).describe()).typedSearchAttributes.get(
    SA.PaymentStatus,
  );

// Every test file starts its own harness (own task queue); this setup recurs in shape on purpose.
beforeAll(async () => {
  h = await startHarness({ name: 'payments', confirmWaitMs: 5000 });
});
afterAll(() => h?.stop());

describe('payment posting', () => {
  it('posts a payment exactly once with the exact body and answers 201 with IMT’s posted payment', async () => {
    const body = newPayment();
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({
      transaction_id: body.transaction_id,
      amount: '50.00',
      invoice_number: body.invoice_number,
    });

    const postings = postingsOf(body.transaction_id);
    expect(postings).toHaveLength(1);
    const { id: _id, posted_at: _at, ...sent } = postings[0];
    expect(sent).toEqual(body);

    const handle = h.client.workflow.getHandle(workflowIds.payment(body.transaction_id));
    const result = (await handle.result()) as PaymentState;
    expect(result.status).toBe(PaymentStatus.POSTED);
    expect(result.attempts).toBe(1);
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SA.PaymentStatus)).toBe('POSTED');
    expect(desc.typedSearchAttributes.get(SA.TransactionId)).toBe(body.transaction_id);
    expect(desc.typedSearchAttributes.get(SA.InvoiceNumber)).toBe(body.invoice_number);
    expect(desc.typedSearchAttributes.get(SA.CustomerId)).toBe(body.customer);

    const status = await h.http.get(`/api/integration/payments/${body.transaction_id}`);
    expect(status.status).toBe(200);
    expect(status.data).toMatchObject({ transaction_id: body.transaction_id, status: 'POSTED', attempts: 1 });
  });

  it('retries IMT 5xx and then posts once', async () => {
    h.imt.faults.set({ failNext: 2, errorStatus: 502, routes: ['/api/integration/invoice/post-payment'] });
    const body = newPayment();
    const res = await post(body);
    h.imt.faults.clear();
    expect(res.status).toBe(201);
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
    const state = await stateOf(body.transaction_id);
    expect(state.attempts).toBe(3);
    expect(state.events.filter((e) => e.event === 'attempt failed')).toHaveLength(2);
  });

  it('honours 429 Retry-After and then posts once', async () => {
    h.imt.faults.set({ rateLimitRetryAfterSeconds: 1, routes: ['/api/integration/invoice/post-payment'] });
    const body = newPayment();
    const pending = post(body);
    await eventually(
      async () =>
        (await stateOf(body.transaction_id).catch(() => undefined))?.lastError?.type === 'RateLimited',
    );
    h.imt.faults.clear();
    const res = await pending;
    expect(res.status).toBe(201);
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('keeps a payment while IMT refuses connections (RETRYING: nothing reached IMT)', async () => {
    h.imt.faults.set({ rateLimitRetryAfterSeconds: 30, routes: ['/api/integration/invoice/post-payment'] });
    const body = newPayment();
    const first = await h.http.post('/api/integration/invoice/post-payment', body);
    expect(first.status).toBe(202);
    expect(first.data.status).toBe('RETRYING');
    expect((await stateOf(body.transaction_id)).imtHolds).toBe('NO');
    h.imt.faults.clear();
    await h.client.workflow
      .getHandle(workflowIds.payment(body.transaction_id))
      .signal('retry', { by: 'test' });
    const result = await h.client.workflow.getHandle(workflowIds.payment(body.transaction_id)).result();
    expect((result as PaymentState).status).toBe('POSTED');
    expect((result as PaymentState).imtHolds).toBe('YES');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('keeps a payment while IMT is down (202), then posts it once when IMT is back', async () => {
    // A 503 may come from a gateway after IMT applied the post: IMT MAY hold it.
    h.imt.faults.set({ maintenance: true, routes: ['/api/integration/invoice/post-payment'] });
    const body = newPayment();
    const first = await h.http.post('/api/integration/invoice/post-payment', body);
    expect(first.status).toBe(202);
    expect(first.data).toEqual({
      transaction_id: body.transaction_id,
      status: 'MAYBE_POSTED',
      status_url: `/api/integration/payments/${body.transaction_id}`,
    });
    expect(await statusAttr(body.transaction_id)).toBe('MAYBE_POSTED');
    expect((await stateOf(body.transaction_id)).imtHolds).toBe('MAYBE');
    expect(postingsOf(body.transaction_id)).toHaveLength(0);

    h.imt.faults.clear();
    const result = await h.client.workflow.getHandle(workflowIds.payment(body.transaction_id)).result();
    expect((result as PaymentState).status).toBe('POSTED');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('parks an invalid post in NEEDS_ATTENTION, and posts once after an operator retry', async () => {
    const body = newPayment();
    h.imt.rejectPostsFor(body.invoice_number, { invoice_number: ['Invoice is closed.'] });
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({
      error: 'rejected_by_imt',
      status: 'NEEDS_ATTENTION',
      reasons: { invoice_number: ['Invoice is closed.'] },
    });
    expect(await statusAttr(body.transaction_id)).toBe('NEEDS_ATTENTION');
    const parked = await stateOf(body.transaction_id);
    expect(parked.lastError).toMatchObject({ type: 'InvalidPost', status: 400 });
    expect(postingsOf(body.transaction_id)).toHaveLength(0);

    h.imt.clearRejections();
    await h.client.workflow
      .getHandle(workflowIds.payment(body.transaction_id))
      .signal('retry', { by: 'test' });
    const result = (await h.client.workflow
      .getHandle(workflowIds.payment(body.transaction_id))
      .result()) as PaymentState;
    expect(result.status).toBe('POSTED');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('ends a parked payment as DISMISSED with the operator’s reason, posting nothing', async () => {
    const body = newPayment();
    h.imt.rejectPostsFor(body.invoice_number, { amount: ['Amount exceeds balance.'] });
    expect((await post(body)).status).toBe(400);
    const handle = h.client.workflow.getHandle(workflowIds.payment(body.transaction_id));
    await handle.signal('dismiss', { reason: 'refunded in IC', by: 'ops' });
    const result = (await handle.result()) as PaymentState;
    expect(result.status).toBe('DISMISSED');
    expect(result.closingReason).toBe('refunded in IC');
    expect(await statusAttr(body.transaction_id)).toBe('DISMISSED');
    h.imt.clearRejections();
    expect(postingsOf(body.transaction_id)).toHaveLength(0);
  });

  it('posts a payment delivered three times once and answers all three alike', async () => {
    const body = newPayment();
    const answers = await Promise.all([post(body), post(body), post(body)]);
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201]);
    expect(answers[1].data).toEqual(answers[0].data);
    expect(answers[2].data).toEqual(answers[0].data);
    const again = await post(body);
    expect(again.status).toBe(201);
    expect(again.data).toEqual(answers[0].data);
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('answers 409 to a conflicting repeat and posts nothing more', async () => {
    const body = newPayment();
    expect((await post(body)).status).toBe(201);
    const conflicting = await post({ ...body, amount: '60.00' });
    expect(conflicting.status).toBe(409);
    expect(conflicting.data.error).toBe('conflict');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
    expect(postingsOf(body.transaction_id)[0].amount).toBe('50.00');
  });

  it('survives a worker stopped while a posting is retrying: a new worker posts it once', async () => {
    h.imt.faults.set({ errorRate: 1, errorStatus: 500, routes: ['/api/integration/invoice/post-payment'] });
    const body = newPayment();
    expect((await post(body)).status).toBe(202);
    await eventually(async () => ((await stateOf(body.transaction_id)).attempts >= 2 ? true : undefined));
    await h.stopWorker();
    h.imt.faults.clear();
    await new Promise((r) => setTimeout(r, 500));
    expect(postingsOf(body.transaction_id)).toHaveLength(0);
    // Each test waits on its own run; the shape recurs in races/reversals tests on purpose (another run, other records).
    await h.startWorker();
    const result = (await h.client.workflow
      .getHandle(workflowIds.payment(body.transaction_id))
      .result()) as PaymentState;
    expect(result.status).toBe('POSTED');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });
});

describe('IMT answers 403', () => {
  let bad: Harness;
  beforeAll(async () => {
    bad = await startHarness({
      name: 'auth',
      wrongImtIntegratorId: 'not-the-right-id',
      authRetryDelayMs: 300,
      confirmWaitMs: 1500,
    });
  });
  afterAll(async () => {
    await bad?.stop();
  });

  it('shows AUTH_REJECTED, keeps retrying slowly and posts nothing', async () => {
    const body = {
      customer: '0406',
      invoice_number: '040620220901',
      transaction_id: uniqueId('T'),
      amount: '50.00',
      payment_method: 'credit',
      message: '',
      source: 'invoice_cloud',
    };
    bad.imt.addInvoice({ invoice_number: body.invoice_number, customer: body.customer, amount_due: '50.00' });
    const res = await bad.http.post('/api/integration/invoice/post-payment', body);
    expect(res.status).toBe(202);
    expect(res.data.status).toBe('AUTH_REJECTED');
    const handle = bad.client.workflow.getHandle(workflowIds.payment(body.transaction_id));
    const state = await eventually(async () => {
      const s = (await handle.query(paymentStateQuery)) as PaymentState;
      return s.attempts >= 3 ? s : undefined;
    });
    expect(state.status).toBe('AUTH_REJECTED');
    expect(state.lastError).toMatchObject({ type: 'AuthRejected', status: 403 });
    expect(JSON.stringify(state)).not.toContain('not-the-right-id');
    expect(bad.imt.postings()).toHaveLength(0);
    await handle.terminate('test over');
  });
});
