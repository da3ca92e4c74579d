/**
 * Voids and ACH rejects on the real dev server, asserting the IMT simulator's ledger:
 * exact calls, exact bodies, nothing extra.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaymentStatus, SA, workflowIds, type ReversalEventState, type PaymentMethod } from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment, voidOf as icVoidOf } from '../helpers/payments';

let h: Harness;

const newPayment = (method: PaymentMethod = 'echeck') => seedPayment(h.imt, { method, amount: '75.00' });
type Payment = ReturnType<typeof newPayment>;

const voidOf = (p: Payment, overrides: Record<string, unknown> = {}) =>
  icVoidOf(p, { message: 'voided by payer', ...overrides });
const achOf = (p: Payment, return_code = 'R01', returned_at = new Date().toISOString().slice(0, 10)) => ({
  ...voidOf(p, { message: 'returned by bank' }),
  return_code,
  returned_at,
});

const postPayment = (p: Payment) => h.http.post('/api/integration/invoice/post-payment', p);
const postVoid = (body: unknown) => h.http.post('/api/integration/invoice/void-payment', body);
const postAch = (body: unknown) => h.http.post('/api/integration/invoice/ach-reject', body);
const ledger = (txid: string) => h.imt.ledger().filter((e) => e.transaction_id === txid);
const reversalsOf = (txid: string) => h.imt.reversals().filter((r) => r.transaction_id === txid);
const lifecycle = async (txid: string) => (await h.http.get(`/api/integration/payments/${txid}`)).data;
const runStatus = async (workflowId: string) =>
  (await h.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(SA.PaymentStatus);

beforeAll(async () => {
  h = await startHarness({ name: 'reversals', unknownPaymentWaitMs: 4000, confirmWaitMs: 5000 });
});
afterAll(async () => {
  await h?.stop();
});

describe('voids', () => {
  it('void while the payment is not yet posted: posting cancelled, nothing sent to IMT', async () => {
    const p = newPayment();
    // 429: IMT definitely did not take the post, so "never posted" is a fact.
    h.imt.faults.set({ rateLimitRetryAfterSeconds: 30, routes: ['/api/integration/invoice/post-payment'] });
    expect((await postPayment(p)).status).toBe(202);
    const res = await postVoid(voidOf(p));
    h.imt.faults.clear();
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({ status: 'VOIDED_BEFORE_POSTING', reversal: null });
    const payment = await h.client.workflow.getHandle(workflowIds.payment(p.transaction_id)).result();
    expect(payment).toMatchObject({
      status: 'VOIDED_BEFORE_POSTING',
      cancelledBy: workflowIds.void(p.transaction_id),
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(ledger(p.transaction_id)).toEqual([]);
    expect((await lifecycle(p.transaction_id)).status).toBe('VOIDED_BEFORE_POSTING');
    expect(await runStatus(workflowIds.payment(p.transaction_id))).toBe('VOIDED_BEFORE_POSTING');
  });

  it('void after posting: exactly one reversal with reversal_type void', async () => {
    const p = newPayment('credit');
    expect((await postPayment(p)).status).toBe(201);
    const res = await postVoid(voidOf(p));
    expect(res.status).toBe(201);
    expect(res.data.status).toBe('VOIDED');
    expect(ledger(p.transaction_id).map((e) => [e.kind, e.reversal_type ?? null, e.amount])).toEqual([
      ['posting', null, '75.00'],
      ['reversal', 'void', '75.00'],
    ]);
    const [reversal] = reversalsOf(p.transaction_id);
    expect(reversal).toMatchObject({ reversal_type: 'void', return_code: null, amount: '75.00' });
    const view = await lifecycle(p.transaction_id);
    expect(view.status).toBe('VOIDED');
    expect(await runStatus(workflowIds.reversal(p.transaction_id))).toBe('VOIDED');
    expect(await runStatus(workflowIds.void(p.transaction_id))).toBe('VOIDED');
  });

  it('an exact repeat of a void is answered alike; a different amount is refused with 409', async () => {
    const p = newPayment();
    await postPayment(p);
    const first = await postVoid(voidOf(p));
    const again = await postVoid(voidOf(p));
    expect(again.status).toBe(first.status);
    expect(again.data).toEqual(first.data);
    const other = newPayment();
    await postPayment(other);
    const mismatch = await postVoid(voidOf(other, { amount: '70.00' }));
    expect(mismatch.status).toBe(409);
    expect(reversalsOf(p.transaction_id)).toHaveLength(1);
    expect(reversalsOf(other.transaction_id)).toHaveLength(0);
  });

  it('void for a payment never seen, which then arrives within the window: never posted', async () => {
    const p = newPayment();
    const v = await postVoid(voidOf(p));
    expect(v.status).toBe(202);
    expect(v.data.status).toBe('AWAITING_PAYMENT');
    const pay = await postPayment(p);
    expect(pay.status).toBe(202);
    expect(pay.data.status).toBe('VOIDED_BEFORE_POSTING');
    const event = (await h.client.workflow
      .getHandle(workflowIds.void(p.transaction_id))
      .result()) as ReversalEventState;
    expect(event.status).toBe('VOIDED_BEFORE_POSTING');
    expect(ledger(p.transaction_id)).toEqual([]);
  });

  it('void for a payment that never arrives parks in NEEDS_ATTENTION after the window; dismiss ends it', async () => {
    const p = newPayment();
    expect((await postVoid(voidOf(p))).status).toBe(202);
    const id = workflowIds.void(p.transaction_id);
    await eventually(async () => (await runStatus(id)) === 'NEEDS_ATTENTION', 20_000);
    expect((await lifecycle(p.transaction_id)).status).toBe('NEEDS_ATTENTION');
    await h.client.workflow.getHandle(id).signal('dismiss', { reason: 'IC confirms payment never happened' });
    const event = (await h.client.workflow.getHandle(id).result()) as ReversalEventState;
    expect(event.status).toBe('DISMISSED');
    expect(ledger(p.transaction_id)).toEqual([]);
  });

  it('IMT answers 404 to the reversal: NEEDS_ATTENTION, then retry reverses once', async () => {
    const p = newPayment();
    expect((await postPayment(p)).status).toBe(201);
    h.imt.faults.set({ failNext: 1, errorStatus: 404, routes: ['/api/integration/invoice/reverse-payment'] });
    const res = await postVoid(voidOf(p));
    expect(res.status).toBe(202);
    const reversalId = workflowIds.reversal(p.transaction_id);
    await eventually(async () => (await runStatus(reversalId)) === 'NEEDS_ATTENTION');
    expect((await lifecycle(p.transaction_id)).status).toBe('NEEDS_ATTENTION');
    expect(reversalsOf(p.transaction_id)).toHaveLength(0);
    h.imt.faults.clear();
    await h.client.workflow.getHandle(reversalId).signal('retry', { by: 'ops' });
    const event = (await h.client.workflow
      .getHandle(workflowIds.void(p.transaction_id))
      .result()) as ReversalEventState;
    expect(event.status).toBe('VOIDED');
    expect(reversalsOf(p.transaction_id)).toHaveLength(1);
  });
});

describe('ACH rejects', () => {
  it('ACH reject after posting: one reversal carrying the return code', async () => {
    const p = newPayment();
    expect((await postPayment(p)).status).toBe(201);
    const res = await postAch(achOf(p, 'R01'));
    expect(res.status).toBe(201);
    expect(res.data.status).toBe('ACH_REJECTED');
    expect(reversalsOf(p.transaction_id)).toEqual([
      expect.objectContaining({ reversal_type: 'ach_reject', return_code: 'R01', amount: '75.00' }),
    ]);
    expect((await lifecycle(p.transaction_id)).status).toBe('ACH_REJECTED');
  });

  it('a return later than its window is still reversed but flagged LATE_RETURN', async () => {
    const p = newPayment();
    await postPayment(p);
    const tenDaysLater = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const res = await postAch(achOf(p, 'R03', tenDaysLater));
    expect(res.status).toBe(201);
    expect(res.data.status).toBe('LATE_RETURN');
    expect(reversalsOf(p.transaction_id)).toHaveLength(1);
    // Unauthorized returns have 60 days.
    const q = newPayment();
    await postPayment(q);
    const ok = await postAch(achOf(q, 'R10', tenDaysLater));
    expect(ok.data.status).toBe('ACH_REJECTED');
  });

  it('ACH reject after a void, and void after an ACH reject: no second reversal, second event recorded', async () => {
    const a = newPayment();
    await postPayment(a);
    expect((await postVoid(voidOf(a))).data.status).toBe('VOIDED');
    const second = await postAch(achOf(a));
    expect(second.status).toBe(201);
    expect(second.data).toMatchObject({ status: 'ALREADY_REVERSED', reversed_by: 'void' });
    expect(reversalsOf(a.transaction_id)).toHaveLength(1);

    const b = newPayment();
    await postPayment(b);
    expect((await postAch(achOf(b))).data.status).toBe('ACH_REJECTED');
    const again = await postVoid(voidOf(b));
    expect(again.data).toMatchObject({ status: 'ALREADY_REVERSED', reversed_by: 'ach_reject' });
    expect(reversalsOf(b.transaction_id)).toEqual([expect.objectContaining({ reversal_type: 'ach_reject' })]);
  });

  it('refuses an ACH reject for a non-echeck payment and a bad return code', async () => {
    const p = newPayment('credit');
    await postPayment(p);
    const res = await postAch(achOf(p));
    expect(res.status).toBe(400);
    expect(res.data.message).toContain('only echeck');
    const bad = await postAch(achOf(newPayment(), 'R86'));
    expect(bad.status).toBe(400);
    expect(bad.data.fields.return_code).toBeDefined();
    expect(reversalsOf(p.transaction_id)).toHaveLength(0);
  });
});

describe('status visibility', () => {
  it('shows each run of a transaction', async () => {
    const p = newPayment();
    await postPayment(p);
    await postVoid(voidOf(p));
    const view = await lifecycle(p.transaction_id);
    expect(view.runs.map((r: { workflow_id: string }) => r.workflow_id).sort()).toEqual(
      [
        workflowIds.payment(p.transaction_id),
        workflowIds.reversal(p.transaction_id),
        workflowIds.void(p.transaction_id),
      ].sort(),
    );
    expect(view.status).toBe(PaymentStatus.VOIDED);
  });
});
