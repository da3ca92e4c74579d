/**
 * Payment posting end to end on the real dev server: ingress → the transaction's run
 * `payment-<txid>` → activity → IMT simulator. Assertions are on what the IMT simulator
 * recorded, what the ingress answered and what Temporal holds (state query, search
 * attributes, history). The run stays open after posting (for a void), so a posting's
 * outcome is read from the run's state, not its result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PaymentStatus,
  SA,
  workflowIds,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
  type TransactionState,
} from '../../domain';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

const POST = '/api/integration/invoice/post-payment';

let h: Harness;

const newPayment = () => seedPayment(h.imt);

const post = (body: unknown) => h.http.post(POST, body);
const postingsOf = (txid: string) => h.imt.postings().filter((p) => p.transaction_id === txid);
const run = (txid: string) => h.client.workflow.getHandle(workflowIds.payment(txid));
const stateOf = (txid: string): Promise<TransactionState> => run(txid).query(transactionStateQuery);
const statusAttr = async (txid: string) =>
  (await run(txid).describe()).typedSearchAttributes.get(SA.PaymentStatus);
/** The durations (ms) of the timers the run started, in order. */
const timersMs = async (txid: string) =>
  ((await run(txid).fetchHistory()).events ?? [])
    .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
    .filter((d) => d !== undefined && d !== null)
    .map((d) => Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6));
/** The run has posted (IMT confirmed it): its state then. */
const posted = (txid: string, timeoutMs?: number) =>
  eventually(async () => {
    const s = await stateOf(txid);
    return s.posting.holds === 'YES' ? s : undefined;
  }, timeoutMs);

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

    const state = await stateOf(body.transaction_id);
    expect(state.status).toBe(PaymentStatus.POSTED);
    expect(state.posting).toMatchObject({ holds: 'YES', attempts: 1 });
    expect(state.posted).toMatchObject({ id: postings[0].id, transaction_id: body.transaction_id });
    const desc = await run(body.transaction_id).describe();
    expect(desc.status.name).toBe('RUNNING');
    expect(desc.typedSearchAttributes.get(SA.TransactionId)).toBe(body.transaction_id);
    expect(desc.typedSearchAttributes.get(SA.InvoiceNumber)).toBe(body.invoice_number);
    expect(desc.typedSearchAttributes.get(SA.CustomerId)).toBe(body.customer);
    await eventually(async () => (await statusAttr(body.transaction_id)) === 'POSTED');

    const status = await h.http.get(`/api/integration/payments/${body.transaction_id}`);
    expect(status.status).toBe(200);
    expect(status.data).toMatchObject({
      transaction_id: body.transaction_id,
      status: 'POSTED',
      run_status: 'RUNNING',
      imt_holds: 'YES',
      attempts: 1,
    });
    expect(status.data.reversal).toBeUndefined();
    const unknown = await h.http.get(`/api/integration/payments/${uniqueId('T')}`);
    expect(unknown.status).toBe(404);
  });

  it('retries IMT 5xx and then posts once', async () => {
    h.imt.faults.set({ failNext: 2, errorStatus: 502, routes: [POST] });
    const body = newPayment();
    const res = await post(body);
    h.imt.faults.clear();
    expect(res.status).toBe(201);
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
    const state = await stateOf(body.transaction_id);
    expect(state.posting.attempts).toBe(3);
    expect(state.log.filter((e) => e.event === 'posting attempt failed')).toHaveLength(2);
    expect(state.lastError).toBeUndefined();
  });

  it('honours 429 Retry-After (nothing reached IMT: POSTING, IMT holds NO), then posts once', async () => {
    // Retry-After 3 s is longer than the first backoff step (1 s): the run's timer shows which one it used.
    h.imt.faults.set({ rateLimitRetryAfterSeconds: 3, routes: [POST] });
    const body = newPayment();
    const first = await post(body);
    expect(first.status).toBe(202);
    expect(first.data).toEqual({
      transaction_id: body.transaction_id,
      status: 'POSTING',
      status_url: `/api/integration/payments/${body.transaction_id}`,
    });
    const waiting = await stateOf(body.transaction_id);
    expect(waiting.posting.holds).toBe('NO');
    expect(waiting.lastError?.type).toBe('RateLimited');
    expect(await timersMs(body.transaction_id)).toContain(3000);
    h.imt.faults.clear();
    const done = await posted(body.transaction_id);
    expect(done.status).toBe(PaymentStatus.POSTED);
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
  });

  it('keeps a payment while IMT is down (202 MAYBE_POSTED), then posts it once when IMT is back', async () => {
    // A 503 may come from a gateway after IMT applied the post: IMT MAY hold it.
    h.imt.faults.set({ maintenance: true, routes: [POST] });
    const body = newPayment();
    const first = await post(body);
    expect(first.status).toBe(202);
    expect(first.data).toEqual({
      transaction_id: body.transaction_id,
      status: 'MAYBE_POSTED',
      status_url: `/api/integration/payments/${body.transaction_id}`,
    });
    expect(await statusAttr(body.transaction_id)).toBe('MAYBE_POSTED');
    expect((await stateOf(body.transaction_id)).posting.holds).toBe('MAYBE');
    expect(postingsOf(body.transaction_id)).toHaveLength(0);

    h.imt.faults.clear();
    const done = await posted(body.transaction_id);
    expect(done.status).toBe('POSTED');
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
    expect(parked.parked).toMatchObject({ imtMayHold: false });
    expect(parked.posting.holds).toBe('NO');
    expect(postingsOf(body.transaction_id)).toHaveLength(0);

    h.imt.clearRejections();
    const answer = await run(body.transaction_id).executeUpdate(retryUpdate, { args: [{ by: 'test' }] });
    expect(answer).toMatchObject({ workflowId: workflowIds.payment(body.transaction_id), status: 'POSTED' });
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
    expect((await stateOf(body.transaction_id)).posting.attempts).toBe(2);
  });

  it('ends a parked payment as DISMISSED with the operator’s reason, posting nothing', async () => {
    const body = newPayment();
    h.imt.rejectPostsFor(body.invoice_number, { amount: ['Amount exceeds balance.'] });
    expect((await post(body)).status).toBe(400);
    const handle = run(body.transaction_id);
    const answer = await handle.executeUpdate(dismissUpdate, {
      args: [{ reason: 'refunded in IC', by: 'ops' }],
    });
    expect(answer.status).toBe('DISMISSED');
    const result: TransactionState = await handle.result();
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

  it('answers 409 to a conflicting repeat after posting and posts nothing more', async () => {
    const body = newPayment();
    expect((await post(body)).status).toBe(201);
    const conflicting = await post({ ...body, amount: '60.00' });
    expect(conflicting.status).toBe(409);
    expect(conflicting.data.error).toBe('conflict');
    expect(postingsOf(body.transaction_id)).toHaveLength(1);
    expect(postingsOf(body.transaction_id)[0].amount).toBe('50.00');
  });

  it('survives a worker stopped while a posting is retrying: a new worker posts it once', async () => {
    h.imt.faults.set({ errorRate: 1, errorStatus: 500, routes: [POST] });
    const body = newPayment();
    expect((await post(body)).status).toBe(202);
    await eventually(async () => (await stateOf(body.transaction_id)).posting.attempts >= 2);
    await h.stopWorker();
    h.imt.faults.clear();
    await new Promise((r) => setTimeout(r, 500));
    expect(postingsOf(body.transaction_id)).toHaveLength(0);
    await h.startWorker();
    const done = await posted(body.transaction_id);
    expect(done.status).toBe('POSTED');
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

  it('keeps retrying slowly, shows the AuthRejected error and posts nothing', async () => {
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
    const res = await bad.http.post(POST, body);
    expect(res.status).toBe(202);
    expect(res.data.status).toBe('POSTING');
    const handle = bad.client.workflow.getHandle(workflowIds.payment(body.transaction_id));
    const state = await eventually(async () => {
      const s = await handle.query(transactionStateQuery);
      return s.posting.attempts >= 3 ? s : undefined;
    });
    expect(state.status).toBe('POSTING');
    expect(state.parked).toBeUndefined();
    expect(state.posting.holds).toBe('NO');
    expect(state.lastError).toMatchObject({ type: 'AuthRejected', status: 403 });
    expect(JSON.stringify(state)).not.toContain('not-the-right-id');
    const status = await bad.http.get(`/api/integration/payments/${body.transaction_id}`);
    expect(status.data).toMatchObject({ status: 'POSTING', last_error: { type: 'AuthRejected' } });
    expect(bad.imt.postings()).toHaveLength(0);
    await handle.terminate('test over');
  });
});
