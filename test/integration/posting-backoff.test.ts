/**
 * How long a transaction's run waits before its next posting attempt (domain
 * `backoffMs`, capped by `ONE_OFF_RETRY_MAX_MS` when the failed attempt was a one-off): a
 * failure while IMT answers other calls, or one of the few failures a quiet worker sees
 * (its retry budget), is retried within 30 s however many attempts came before; during an
 * outage — IMT answers nothing and many postings fail — the backoff keeps its 5-minute cap.
 * Asserted on the timer the real run started, then on IMT's ledger once the timer fired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ONE_OFF_RETRY_MAX_MS,
  PaymentStatus,
  RETRY_MAX_MS,
  TRANSACTION_WORKFLOW_TYPE,
  newMoneyCall,
  newTransaction,
  transactionStateQuery,
  workflowIds,
  type PaymentRequest,
  type TransactionState,
} from '../../domain';
import { transactionStartOptions } from '../../client/ingress/payment';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

const POST = '/api/integration/invoice/post-payment';
const WINDOW_MS = 3000;
/** Failed postings per minute that are still one-offs. The file's tests spend it in order. */
const BUDGET = 2;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    name: 'posting-backoff',
    imtAnsweringWindowMs: WINDOW_MS,
    postingRetryBudgetPerMinute: BUDGET,
  });
});
afterAll(async () => {
  await h?.stop();
});

const postingsOf = (txid: string) => h.imt.postings().filter((p) => p.transaction_id === txid);
const run = (p: PaymentRequest) => h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));

/**
 * A transaction's run that already made `attempts` posting attempts, the last with an
 * unknown outcome (after an outage): carried state, as continue-as-new would hand it on.
 */
async function startAfterManyAttempts(p: PaymentRequest, attempts: number) {
  const options = transactionStartOptions({ kind: 'payment', payment: p }, { taskQueue: h.taskQueue });
  const [input] = options.args;
  const at = new Date().toISOString();
  const carried: TransactionState = {
    ...newTransaction(p.transaction_id, at, false),
    payment: p,
    posting: { ...newMoneyCall(), holds: 'MAYBE', attempts, uncertain: true, uncertainAt: at },
    log: [{ at, event: 'payment received' }],
  };
  return h.client.workflow.start(TRANSACTION_WORKFLOW_TYPE, {
    ...options,
    args: [{ ...input, carried }],
  });
}

/** The duration (ms) of the first timer the run started: its wait before the next posting attempt. */
async function firstTimerMs(p: PaymentRequest): Promise<number> {
  return eventually(async () => {
    const { events } = await run(p).fetchHistory();
    const timer = events?.find((e) => e.timerStartedEventAttributes)?.timerStartedEventAttributes;
    const d = timer?.startToFireTimeout;
    return d ? Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6) : undefined;
  });
}

/** A run after 12 earlier attempts whose next posting IMT answers 503: its backoff timer (ms). */
async function timerAfterOne503(p: PaymentRequest): Promise<number> {
  h.imt.faults.set({ failNext: 1, errorStatus: 503, routes: [POST] });
  await startAfterManyAttempts(p, 12);
  return firstTimerMs(p);
}

/** The run waits, IMT MAY hold the payment, nothing is posted yet. */
async function expectWaitingMaybePosted(p: PaymentRequest): Promise<void> {
  const s = await run(p).query(transactionStateQuery);
  expect(s.status).toBe(PaymentStatus.MAYBE_POSTED);
  expect(s.posting).toMatchObject({ holds: 'MAYBE', attempts: 13 });
  expect(postingsOf(p.transaction_id)).toHaveLength(0);
}

/** The timer fires and the next attempt posts once. */
async function expectPostedOnceAfterTimer(p: PaymentRequest): Promise<void> {
  const s = await eventually(
    async () => {
      const state = await run(p).query(transactionStateQuery);
      return state.posting.holds === 'YES' ? state : undefined;
    },
    ONE_OFF_RETRY_MAX_MS + 30_000,
    500,
  );
  expect(s.status).toBe(PaymentStatus.POSTED);
  expect(s.posting.attempts).toBe(14);
  expect(postingsOf(p.transaction_id)).toHaveLength(1);
}

describe('backoff of a failed posting', () => {
  it('retries a one-off failure within 30 s while IMT answers other calls, after 12 earlier attempts', async () => {
    // IMT answers: another payment is posted through the same worker just before.
    const other = seedPayment(h.imt);
    expect((await h.http.post(POST, other)).status).toBe(201);
    const p = seedPayment(h.imt);
    // 2^12 s would be capped at 5 minutes; IMT is up, so the cap is 30 s.
    expect(await timerAfterOne503(p)).toBe(ONE_OFF_RETRY_MAX_MS);
    h.imt.faults.clear();
    await expectWaitingMaybePosted(p);
    await expectPostedOnceAfterTimer(p);
  });

  it('retries within 30 s on a quiet system: IMT answered nothing lately, but few postings failed', async () => {
    // Nothing else calls IMT (the chaos run's settling phase); this is the worker's second failure.
    await eventually(async () => !h.deps.imt.answeredOkWithin(WINDOW_MS), 10_000);
    const p = seedPayment(h.imt);
    expect(await timerAfterOne503(p)).toBe(ONE_OFF_RETRY_MAX_MS);
    h.imt.faults.clear();
    await expectWaitingMaybePosted(p);
    await expectPostedOnceAfterTimer(p);
  });

  it('keeps the 5-minute cap in an outage: IMT answers nothing and more postings fail than the budget', async () => {
    await eventually(async () => !h.deps.imt.answeredOkWithin(WINDOW_MS), 10_000);
    h.imt.faults.set({ reset: true, routes: [POST] });
    // One after the other, so the last one's failure is past the budget whatever ran before.
    const payments = Array.from({ length: BUDGET + 1 }, () => seedPayment(h.imt));
    const timers: number[] = [];
    try {
      for (const p of payments) {
        await startAfterManyAttempts(p, 12);
        timers.push(await firstTimerMs(p));
      }
      expect(timers.at(-1)).toBe(RETRY_MAX_MS);
      for (const t of timers) expect([ONE_OFF_RETRY_MAX_MS, RETRY_MAX_MS]).toContain(t);
      h.imt.faults.clear();
      for (const p of payments) await expectWaitingMaybePosted(p);
    } finally {
      h.imt.faults.clear();
      // Their next attempt is minutes away (the point of this case): no need to wait for it.
      for (const p of payments)
        await run(p)
          .terminate('test over')
          .catch(() => undefined);
    }
  });
});
