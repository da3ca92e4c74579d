/**
 * Voids and ACH rejects on the real dev server, asserting the IMT simulator's ledger:
 * exact calls, exact bodies, nothing extra. Every event of a transaction goes to its one run
 * `payment-<txid>`; a reversal ends it REVERSED with the reversal's type. Cases already in
 * transaction.test.ts (a void before its payment, an ACH reject after a void, an ACH
 * reject for a card payment) are not repeated here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PaymentStatus,
  SA,
  workflowIds,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
  type PaymentMethod,
  type TransactionState,
} from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment, voidOf as icVoidOf } from '../helpers/payments';

const AWAIT_PAYMENT_MS = 4000;

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
const run = (txid: string) => h.client.workflow.getHandle(workflowIds.payment(txid));
const stateOf = (txid: string): Promise<TransactionState> => run(txid).query(transactionStateQuery);
/** The durations (ms) of the timers the run started, in order. */
const timersMs = async (txid: string) =>
  ((await run(txid).fetchHistory()).events ?? [])
    .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
    .filter((d) => d !== undefined && d !== null)
    .map((d) => Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6));
const runStatus = async (txid: string) =>
  (await run(txid).describe()).typedSearchAttributes.get(SA.PaymentStatus);

beforeAll(async () => {
  h = await startHarness({
    name: 'reversals',
    confirmWaitMs: 5000,
    timing: { awaitPaymentMs: AWAIT_PAYMENT_MS },
  });
});
afterAll(async () => {
  await h?.stop();
});

describe('voids', () => {
  it('void while the payment is not yet posted (IMT refused it for sure): NOT_POSTED, nothing sent to IMT', async () => {
    const p = newPayment();
    // 429: IMT definitely did not take the post, so "never posted" is a fact.
    h.imt.faults.set({ rateLimitRetryAfterSeconds: 30, routes: ['/api/integration/invoice/post-payment'] });
    const pay = await postPayment(p);
    expect(pay.status).toBe(202);
    expect(pay.data.status).toBe('POSTING');
    const res = await postVoid(voidOf(p));
    h.imt.faults.clear();
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({ status: 'NOT_POSTED', reversal: null, late_return: false });
    const state = await stateOf(p.transaction_id);
    expect(state).toMatchObject({ status: 'NOT_POSTED', reversalKind: 'void' });
    expect(state.posting.holds).toBe('NO');
    expect(state.reversal.attempts).toBe(0);
    // No more posting attempts: the run now sleeps until the payment's return window closes (days).
    await eventually(async () => (await timersMs(p.transaction_id)).some((ms) => ms > 86_400_000));
    // The payment is answered alike now: never posted.
    const again = await postPayment(p);
    expect(again.status).toBe(202);
    expect(again.data.status).toBe('NOT_POSTED');
    expect(ledger(p.transaction_id)).toEqual([]);
    expect((await lifecycle(p.transaction_id)).status).toBe('NOT_POSTED');
    await eventually(async () => (await runStatus(p.transaction_id)) === 'NOT_POSTED');
  });

  it('void after posting: exactly one reversal with reversal_type void; the status call shows it', async () => {
    const p = newPayment('credit');
    expect((await postPayment(p)).status).toBe(201);
    const res = await postVoid(voidOf(p));
    expect(res.status).toBe(201);
    const [reversal] = reversalsOf(p.transaction_id);
    expect(res.data).toEqual({
      transaction_id: p.transaction_id,
      status: 'REVERSED',
      reversal: { reversal_type: 'void', amount: '75.00', return_code: null, imt_reversal_id: reversal.id },
      late_return: false,
      status_url: `/api/integration/payments/${p.transaction_id}`,
    });
    expect(ledger(p.transaction_id).map((e) => [e.kind, e.reversal_type ?? null, e.amount])).toEqual([
      ['posting', null, '75.00'],
      ['reversal', 'void', '75.00'],
    ]);
    expect(reversal).toMatchObject({ reversal_type: 'void', return_code: null, amount: '75.00' });
    const final: TransactionState = await run(p.transaction_id).result();
    expect(final).toMatchObject({ status: 'REVERSED', reversalKind: 'void' });
    expect(final.reversal).toMatchObject({ holds: 'YES', attempts: 1 });
    expect(await runStatus(p.transaction_id)).toBe('REVERSED');
    const view = await lifecycle(p.transaction_id);
    expect(view).toMatchObject({
      transaction_id: p.transaction_id,
      status: PaymentStatus.REVERSED,
      run_status: 'COMPLETED',
      imt_holds: 'YES',
      reversal: { kind: 'void', imt_holds: 'YES', record: { reversal_type: 'void', id: reversal.id } },
    });
  });

  it('an exact repeat of a void is answered alike; a different amount is refused with 409', async () => {
    const p = newPayment();
    await postPayment(p);
    const first = await postVoid(voidOf(p));
    expect(first.status).toBe(201);
    const again = await postVoid(voidOf(p));
    expect(again.status).toBe(first.status);
    expect(again.data).toEqual(first.data);
    const other = newPayment();
    expect((await postPayment(other)).status).toBe(201);
    const mismatch = await postVoid(voidOf(other, { amount: '70.00' }));
    expect(mismatch.status).toBe(409);
    expect(mismatch.data.error).toBe('amount_mismatch');
    expect(reversalsOf(p.transaction_id)).toHaveLength(1);
    expect(reversalsOf(other.transaction_id)).toHaveLength(0);
    expect((await stateOf(other.transaction_id)).status).toBe('POSTED');
  });

  it('void for a payment that never arrives parks in NEEDS_ATTENTION after the wait; dismiss ends it', async () => {
    const p = newPayment();
    const v = await postVoid(voidOf(p));
    expect(v.status).toBe(202);
    expect(v.data.status).toBe('AWAITING_PAYMENT');
    await eventually(async () => (await runStatus(p.transaction_id)) === 'NEEDS_ATTENTION', 20_000);
    const parked = await stateOf(p.transaction_id);
    expect(parked.parked).toMatchObject({ imtMayHold: false });
    expect((await lifecycle(p.transaction_id)).needs_attention).toMatchObject({ imt_may_hold: false });
    const answer = await run(p.transaction_id).executeUpdate(dismissUpdate, {
      args: [{ reason: 'IC confirms payment never happened' }],
    });
    expect(answer.status).toBe('DISMISSED');
    const final: TransactionState = await run(p.transaction_id).result();
    expect(final.status).toBe('DISMISSED');
    expect(ledger(p.transaction_id)).toEqual([]);
  });

  it('IMT answers 404 to the reversal: NEEDS_ATTENTION, then retry reverses once', async () => {
    const p = newPayment();
    expect((await postPayment(p)).status).toBe(201);
    h.imt.faults.set({ failNext: 1, errorStatus: 404, routes: ['/api/integration/invoice/reverse-payment'] });
    const res = await postVoid(voidOf(p));
    expect(res.status).toBe(202);
    expect(res.data.status).toBe('NEEDS_ATTENTION');
    await eventually(async () => (await runStatus(p.transaction_id)) === 'NEEDS_ATTENTION');
    const parked = await stateOf(p.transaction_id);
    expect(parked.lastError).toMatchObject({ type: 'NotFound', status: 404 });
    expect(parked.reversal.holds).toBe('NO');
    expect((await lifecycle(p.transaction_id)).status).toBe('NEEDS_ATTENTION');
    expect(reversalsOf(p.transaction_id)).toHaveLength(0);
    h.imt.faults.clear();
    const answer = await run(p.transaction_id).executeUpdate(retryUpdate, { args: [{ by: 'ops' }] });
    // The operator's Update answers with the outcome of the retried reversal.
    expect(answer.status).toBe('REVERSED');
    const final: TransactionState = await run(p.transaction_id).result();
    expect(final.status).toBe('REVERSED');
    expect(final.reversal.attempts).toBe(2);
    expect(reversalsOf(p.transaction_id)).toHaveLength(1);
  });
});

describe('ACH rejects', () => {
  it('a return later than its window is still reversed but flagged late_return', async () => {
    const p = newPayment();
    expect((await postPayment(p)).status).toBe(201);
    const tenDaysLater = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const res = await postAch(achOf(p, 'R03', tenDaysLater));
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({
      status: 'REVERSED',
      reversal: { reversal_type: 'ach_reject', return_code: 'R03', amount: '75.00' },
      late_return: true,
    });
    expect(reversalsOf(p.transaction_id)).toEqual([
      expect.objectContaining({ reversal_type: 'ach_reject', return_code: 'R03', amount: '75.00' }),
    ]);
    const final: TransactionState = await run(p.transaction_id).result();
    expect(final.lateReturn).toBe(true);
    expect((await lifecycle(p.transaction_id)).reversal).toMatchObject({
      kind: 'ach_reject',
      late_return: true,
    });
    // Unauthorized returns have 60 days.
    const q = newPayment();
    expect((await postPayment(q)).status).toBe(201);
    const ok = await postAch(achOf(q, 'R10', tenDaysLater));
    expect(ok.status).toBe(201);
    expect(ok.data).toMatchObject({ status: 'REVERSED', late_return: false });
  });

  it('a void after an ACH reject: no second reversal, the ACH reject’s is answered', async () => {
    const b = newPayment();
    expect((await postPayment(b)).status).toBe(201);
    const ach = await postAch(achOf(b));
    expect(ach.data).toMatchObject({ status: 'REVERSED', reversal: { reversal_type: 'ach_reject' } });
    const again = await postVoid(voidOf(b));
    expect(again.status).toBe(201);
    expect(again.data).toMatchObject({
      status: 'REVERSED',
      reversal: { reversal_type: 'ach_reject', return_code: 'R01' },
    });
    expect(reversalsOf(b.transaction_id)).toEqual([
      expect.objectContaining({ reversal_type: 'ach_reject', return_code: 'R01' }),
    ]);
  });

  it('refuses an ACH reject for a non-echeck payment and a bad return code', async () => {
    const p = newPayment('credit');
    expect((await postPayment(p)).status).toBe(201);
    const res = await postAch(achOf(p));
    expect(res.status).toBe(400);
    expect(res.data.message).toContain('only echeck');
    const bad = await postAch(achOf(newPayment(), 'R86'));
    expect(bad.status).toBe(400);
    expect(bad.data.fields.return_code).toBeDefined();
    expect(reversalsOf(p.transaction_id)).toHaveLength(0);
    expect((await stateOf(p.transaction_id)).status).toBe('POSTED');
  });
});
