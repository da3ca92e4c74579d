/**
 * One run per transaction (issue 20), through the ingress on the real dev server against the
 * IMT simulator. Each test asserts IMT's ledger (what was posted and reversed), IC's answers,
 * and the run's state and history. The defects named in the issue each have a case here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transactionStartOptions } from '../../client/ingress/payment';
import {
  SA,
  TRANSACTION_WORKFLOW_TYPE,
  workflowIds,
  type PaymentMethod,
  type PaymentRequest,
  type TransactionState,
  retryUpdate,
  transactionStateQuery,
} from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment, voidOf } from '../helpers/payments';
import { startAlertReceiver, type AlertReceiver } from '../helpers/webhook';

const POST = '/api/integration/invoice/post-payment';
const SETTLE_MS = 1500;

let h: Harness;
let hooks: AlertReceiver;

beforeAll(async () => {
  hooks = await startAlertReceiver();
  h = await startHarness({
    name: 'transaction',
    imtTimeoutMs: 1000,
    confirmWaitMs: 4000,
    alertWebhookUrl: hooks.url,
    timing: { settleMs: SETTLE_MS, awaitPaymentMs: 10 * 60_000 },
  });
});
afterAll(async () => {
  await h?.stop();
  await hooks?.close();
});

const newPayment = (method: PaymentMethod = 'echeck') => seedPayment(h.imt, { method, amount: '42.50' });
const achOf = (p: PaymentRequest, overrides: Record<string, unknown> = {}) => ({
  ...voidOf(p, overrides),
  return_code: 'R01',
  returned_at: new Date().toISOString().slice(0, 10),
});
const post = (p: PaymentRequest) => h.http.post(POST, p);
const postVoid = (body: unknown) => h.http.post('/api/integration/invoice/void-payment', body);
const postAch = (body: unknown) => h.http.post('/api/integration/invoice/ach-reject', body);
const cents = (a: string) => Math.round(Number(a) * 100);
const ledger = (txid: string) => h.imt.ledger().filter((e) => e.transaction_id === txid);
/** What IMT holds for a transaction: posted − reversed, in cents. */
const imtNet = (txid: string) =>
  ledger(txid).reduce((sum, e) => sum + (e.kind === 'posting' ? cents(e.amount) : -cents(e.amount)), 0);
const run = (txid: string) => h.client.workflow.getHandle(workflowIds.payment(txid));
const state = (txid: string) => run(txid).query(transactionStateQuery);
const statusOf = async (txid: string) =>
  (await run(txid).describe()).typedSearchAttributes.get(SA.PaymentStatus);
const history = async (txid: string) => (await run(txid).fetchHistory()).events ?? [];

describe('one run holds the whole transaction', () => {
  it('posts once, answers 201, and stays open asleep on a timer while a void can come', async () => {
    const p = newPayment('credit');
    const res = await post(p);
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({ transaction_id: p.transaction_id, amount: p.amount });
    expect(ledger(p.transaction_id)).toHaveLength(1);
    const desc = await run(p.transaction_id).describe();
    expect(desc.status.name).toBe('RUNNING');
    expect(desc.type).toBe('transactionWorkflow');
    await eventually(async () => (await statusOf(p.transaction_id)) === 'POSTED');
    const events = await history(p.transaction_id);
    expect(events.filter((e) => e.timerStartedEventAttributes).length).toBeGreaterThan(0);
    // Exact repeats are answered alike; no second posting.
    const again = await post(p);
    expect(again.status).toBe(201);
    expect(again.data).toEqual(res.data);
    expect(ledger(p.transaction_id)).toHaveLength(1);
  });

  it('a void after posting reverses once; the run completes REVERSED; a later ACH reject reads IMT and adds nothing', async () => {
    const p = newPayment('echeck');
    expect((await post(p)).status).toBe(201);
    const voided = await postVoid(voidOf(p));
    expect(voided.status).toBe(201);
    expect(voided.data).toMatchObject({ status: 'REVERSED', reversal: { reversal_type: 'void' } });
    expect(imtNet(p.transaction_id)).toBe(0);
    await eventually(async () => (await run(p.transaction_id).describe()).status.name === 'COMPLETED');
    // The run has closed: the ACH reject starts a reopened run that reads IMT's record (C4).
    const ach = await postAch(achOf(p));
    expect(ach.status).toBe(201);
    expect(ach.data).toMatchObject({ status: 'REVERSED', reversal: { reversal_type: 'void' } });
    expect(h.imt.reversals().filter((r) => r.transaction_id === p.transaction_id)).toHaveLength(1);
    const reopened = await state(p.transaction_id);
    expect(reopened.reopened).toBe(true);
  });

  it('a void that comes first waits inside the run; the payment then is never posted', async () => {
    const p = newPayment('credit');
    const early = await postVoid(voidOf(p));
    expect(early.status).toBe(202);
    expect(early.data).toMatchObject({ status: 'AWAITING_PAYMENT' });
    const res = await post(p);
    expect(res.status).toBe(202);
    expect(res.data).toMatchObject({ status: 'NOT_POSTED' });
    expect(ledger(p.transaction_id)).toHaveLength(0);
    const again = await postVoid(voidOf(p));
    expect(again.status).toBe(201);
    expect(again.data).toMatchObject({ status: 'NOT_POSTED', reversal: null });
  });

  it('an early void with another amount parks the payment unposted, with an alert', async () => {
    const p = newPayment('credit');
    expect((await postVoid(voidOf(p, { amount: '1.00' }))).status).toBe(202);
    const res = await post(p);
    expect(res.status).toBe(202);
    expect(res.data).toMatchObject({ status: 'NEEDS_ATTENTION' });
    expect(ledger(p.transaction_id)).toHaveLength(0);
    await eventually(async () => hooks.about(p.transaction_id).length > 0);
  });
});

describe('intake properties', () => {
  it('a conflicting delivery is a 409 that writes no history, also while the first is being posted', async () => {
    const p = newPayment('credit');
    h.imt.faults.set({ failNext: 3, errorStatus: 503, routes: [POST] });
    const first = post(p);
    // The first delivery is in the run (its update accepted) before the conflicting ones come.
    await eventually(async () => (await state(p.transaction_id)).posting.attempts >= 1);
    const before = (await history(p.transaction_id)).length;
    const conflicting = await post({ ...p, amount: '1.00' });
    expect(conflicting.status).toBe(409);
    expect(conflicting.data).toMatchObject({ error: 'conflict' });
    const voidOther = await postVoid(voidOf(p, { amount: '9.99' }));
    expect(voidOther.status).toBe(409);
    expect(voidOther.data).toMatchObject({ error: 'amount_mismatch' });
    // A refused update leaves no event behind (the validator runs before anything is written).
    const updates = (await history(p.transaction_id))
      .slice(before)
      .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    expect(updates).toHaveLength(0);
    expect([201, 202]).toContain((await first).status);
    await eventually(async () => ledger(p.transaction_id).length === 1, 30_000);
    h.imt.faults.clear();
  });

  it('while no worker runs: a conflicting delivery is still a 409, the first a 503, never a 2xx', async () => {
    await h.stopWorker();
    try {
      const p = newPayment('credit');
      const first = await post(p);
      expect(first.status).toBe(503);
      const conflicting = await post({ ...p, amount: '1.00' });
      expect(conflicting.status).toBe(409);
    } finally {
      await h.startWorker();
    }
  });

  it("the run holds the starter's delivery before any other: the start's memo never names content it refused", async () => {
    const p = newPayment('credit');
    const other = { ...p, amount: '1.00' };
    // The starter's delivery is in the run's input; another delivery's update may reach the
    // worker first (a concurrent update-with-start can be admitted between the start and the
    // starter's own update). Here the start goes alone, then the other content comes.
    await h.client.workflow.start(
      TRANSACTION_WORKFLOW_TYPE,
      transactionStartOptions({ kind: 'payment', payment: p }, { taskQueue: h.taskQueue }),
    );
    const refused = await post(other);
    expect(refused.status).toBe(409);
    expect((await post(p)).status).toBe(201);
    expect(ledger(p.transaction_id).map((e) => e.amount)).toEqual(['42.50']);
    const memo = (await run(p.transaction_id).describe()).memo ?? {};
    expect(memo.amount).toBe('42.50');
    expect((await state(p.transaction_id)).payment?.amount).toBe('42.50');
  });

  it('callers that hang up release their admission slot at once', async () => {
    const small = await startHarness({
      name: 'hangups',
      confirmWaitMs: 3000,
      maxInFlight: 5,
      timing: { settleMs: SETTLE_MS },
    });
    try {
      await small.stopWorker();
      const aborted = Array.from({ length: 30 }, () => {
        const p = seedPayment(small.imt, { method: 'credit' });
        return small.http.post(POST, p, { timeout: 200 }).catch(() => undefined);
      });
      await Promise.all(aborted);
      await small.startWorker();
      const p = seedPayment(small.imt, { method: 'credit' });
      const res = await small.http.post(POST, p);
      expect(res.status).toBe(201);
    } finally {
      await small.stop();
    }
  });

  it('every accepted delivery completes inside the run, even while IMT is down', async () => {
    const p = newPayment('credit');
    h.imt.faults.set({ maintenance: true, routes: [POST] });
    try {
      const answers = await Promise.all([post(p), post(p), post(p)]);
      for (const a of answers) expect(a.status).toBe(202);
      const events = await history(p.transaction_id);
      const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
      const completed = events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length;
      expect(accepted).toBe(3);
      expect(completed).toBe(3);
    } finally {
      h.imt.faults.clear();
    }
    await eventually(async () => ledger(p.transaction_id).length === 1, 60_000, 500);
  });
});

describe('a closed transaction keeps what it accepted (found by the model test)', () => {
  it('after the run completed: a payment or a void with another amount is a 409, an ACH reject of a card a 400', async () => {
    const p = newPayment('credit');
    expect((await post(p)).status).toBe(201);
    expect((await postVoid(voidOf(p))).status).toBe(201);
    await eventually(async () => (await run(p.transaction_id).describe()).status.name === 'COMPLETED');
    expect((await post({ ...p, amount: '1.00' })).status).toBe(409);
    expect((await postVoid(voidOf(p, { amount: '1.00' }))).status).toBe(409);
    expect((await postAch(achOf(p))).status).toBe(400);
    // An exact repeat is still answered from IMT's record, and nothing more reaches IMT.
    expect((await post(p)).status).toBe(201);
    expect(ledger(p.transaction_id)).toHaveLength(2);
  });
});

describe('money after an unknown outcome', () => {
  it('applied but unanswered, IMT fails, then refuses the repeat (400), then a void: IMT’s record says it holds it, so it is reversed', async () => {
    const p = newPayment('credit');
    // The first post lands in IMT but its answer is lost; then IMT fails with 500s.
    h.imt.faults.set({ applyThenHangNext: 1, failNext: 10_000, errorStatus: 500, routes: [POST] });
    const first = await post(p);
    expect(first.status).toBe(202);
    await eventually(async () => (await state(p.transaction_id)).posting.holds === 'MAYBE');
    expect(ledger(p.transaction_id)).toHaveLength(1);
    // IMT validates the repeat against the reduced balance before it deduplicates: a definite 400.
    h.imt.rejectPostsFor(p.invoice_number, { amount: ['exceeds the balance due'] });
    h.imt.faults.clear();
    await eventually(async () => (await state(p.transaction_id)).posting.holds === 'YES', 30_000);
    const voided = await postVoid(voidOf(p));
    expect(voided.status).toBe(201);
    expect(voided.data).toMatchObject({ status: 'REVERSED' });
    expect(imtNet(p.transaction_id)).toBe(0);
    h.imt.clearRejections();
  });

  it('a refused repeat that IMT’s record does not hold (after the settle time): parked as refused, not “may hold”', async () => {
    const p = newPayment('credit');
    // The first attempt gets a 502 without reaching IMT; the repeat is refused for good.
    h.imt.faults.set({ failNext: 1, errorStatus: 502, routes: [POST] });
    h.imt.rejectPostsFor(p.invoice_number, { invoice_number: ['closed'] });
    await post(p);
    const parked = await eventually(async () => {
      const s = await state(p.transaction_id);
      return s.parked ? s : undefined;
    }, 30_000);
    expect(parked.posting.holds).toBe('NO');
    expect(parked.parked?.imtMayHold).toBe(false);
    expect(ledger(p.transaction_id)).toHaveLength(0);
    h.imt.clearRejections();
    h.imt.faults.clear();
  });

  it('a void while the posting’s outcome is unknown and IMT never got it: NOT_POSTED only after the settle time', async () => {
    const p = newPayment('credit');
    h.imt.faults.set({ hang: true, routes: [POST] });
    await post(p);
    await eventually(async () => (await state(p.transaction_id)).posting.holds === 'MAYBE', 30_000);
    h.imt.faults.clear();
    h.imt.faults.set({ failNext: 1000, errorStatus: 503, routes: [POST] });
    const voided = await postVoid(voidOf(p));
    expect([201, 202]).toContain(voided.status);
    const done = await eventually(async () => {
      const s = await state(p.transaction_id);
      return s.status === 'NOT_POSTED' ? s : undefined;
    }, 30_000);
    expect(done.posting.holds).toBe('NO');
    expect(imtNet(p.transaction_id)).toBe(0);
    h.imt.faults.clear();
  });
});

describe('operators', () => {
  it('terminating the run, then a void: the reopened run reads IMT and reverses once', async () => {
    const p = newPayment('credit');
    expect((await post(p)).status).toBe(201);
    await run(p.transaction_id).terminate('operator test');
    const voided = await postVoid(voidOf(p));
    expect(voided.status).toBe(201);
    expect(voided.data).toMatchObject({ status: 'REVERSED' });
    expect(imtNet(p.transaction_id)).toBe(0);
  });

  it('terminating a run that waited for its payment: the payment is not answered 503 forever', async () => {
    const p = newPayment('credit');
    expect((await postVoid(voidOf(p))).status).toBe(202);
    await run(p.transaction_id).terminate('operator test');
    const res = await post(p);
    expect([202, 201]).toContain(res.status);
    expect(res.status).not.toBe(503);
    // IMT holds nothing and the run had closed: a person decides, with an alert.
    await eventually(async () => (await state(p.transaction_id)).parked !== undefined, 30_000);
    expect(ledger(p.transaction_id)).toHaveLength(0);
  });

  it('cancelling the run while IMT may hold the payment alerts, and a redelivery goes on from IMT’s record', async () => {
    const p = newPayment('credit');
    h.imt.faults.set({ applyThenHangNext: 1, failNext: 10_000, errorStatus: 500, routes: [POST] });
    await post(p);
    await eventually(async () => (await state(p.transaction_id)).posting.holds === 'MAYBE');
    await run(p.transaction_id).cancel();
    await eventually(async () => (await run(p.transaction_id).describe()).status.name === 'CANCELLED').catch(
      async (err) => {
        const events = await history(p.transaction_id);
        console.log(
          JSON.stringify(
            events
              .slice(-12)
              .map((e) => [e.eventType, e.workflowTaskFailedEventAttributes?.failure?.message]),
          ),
        );
        throw err;
      },
    );
    await eventually(async () => hooks.about(p.transaction_id).some((a) => a.text.includes('MAY HOLD')));
    h.imt.faults.clear();
    const voided = await postVoid(voidOf(p));
    expect(voided.status).toBe(201);
    expect(imtNet(p.transaction_id)).toBe(0);
  });

  it('retry is an Update: refused in the wrong state without history, answered with the outcome when parked', async () => {
    const p = newPayment('credit');
    h.imt.rejectPostsFor(p.invoice_number, { amount: ['invalid'] });
    const res = await post(p);
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({ error: 'rejected_by_imt' });
    h.imt.clearRejections();
    const answer = await run(p.transaction_id).executeUpdate(retryUpdate, { args: [{ by: 'test' }] });
    expect(answer.status).toBe('POSTED');
    expect(ledger(p.transaction_id)).toHaveLength(1);
    // The refused update leaves no event (the run's own events, e.g. its alert run's start, may still come).
    const accepted = async () =>
      (await history(p.transaction_id)).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
        .length;
    const before = await accepted();
    await expect(
      run(p.transaction_id).executeUpdate(retryUpdate, { args: [{ by: 'test' }] }),
    ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/only a NEEDS_ATTENTION/) } });
    expect(await accepted()).toBe(before);
  });
});

describe('ACH rejects', () => {
  it('refuses an ACH reject for a card payment (400) and reverses an echeck one with its return code', async () => {
    const card = newPayment('credit');
    expect((await post(card)).status).toBe(201);
    const refused = await postAch(achOf(card));
    expect(refused.status).toBe(400);
    const check = newPayment('echeck');
    expect((await post(check)).status).toBe(201);
    const ach = await postAch(achOf(check));
    expect(ach.status).toBe(201);
    expect(ach.data).toMatchObject({
      status: 'REVERSED',
      reversal: { reversal_type: 'ach_reject', return_code: 'R01' },
    });
    const s: TransactionState = await h.client.workflow
      .getHandle(workflowIds.payment(check.transaction_id))
      .result();
    expect(s.status).toBe('REVERSED');
    expect(h.imt.reversals().filter((r) => r.transaction_id === check.transaction_id)).toHaveLength(1);
  });
});
