/**
 * How long a payment waits before its next posting attempt (workflows/payment.ts): a
 * failure while IMT answers other calls, or one of the few failures a quiet worker sees
 * (its retry budget), is a one-off, retried within 30 s however many attempts came before;
 * during an outage — IMT answers nothing and many postings fail — the backoff keeps its
 * 5-minute cap. Asserted on the timer the real run started, then on IMT's ledger once the
 * run is woken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaymentStatus, workflowIds, type PaymentRequest, type PaymentState } from '../../domain';
import { paymentStartOptions } from '../../client/ingress/payment';
import { ONE_OFF_RETRY_MAX_MS, RETRY_MAX_MS } from '../../workflows/payment';
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

/** A payment run that already made `attempts` attempts, some with an unknown outcome (after an outage). */
async function startAfterManyAttempts(p: PaymentRequest, attempts: number) {
  const options = paymentStartOptions(p, h.taskQueue);
  const [input] = options.args;
  return h.client.workflow.start('paymentWorkflow', {
    ...options,
    args: [
      {
        ...input,
        carried: {
          attempts,
          imtHolds: 'MAYBE' as const,
          events: [{ at: input.receivedAt, event: 'received' }],
        },
      },
    ],
  });
}

/** The duration (ms) of the first timer the run started. */
async function firstTimerMs(workflowId: string): Promise<number> {
  return eventually(async () => {
    const { events } = await h.client.workflow.getHandle(workflowId).fetchHistory();
    const timer = events?.find((e) => e.timerStartedEventAttributes)?.timerStartedEventAttributes;
    const d = timer?.startToFireTimeout;
    return d ? Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6) : undefined;
  });
}

/** A payment run after 12 earlier attempts whose next posting IMT answers 503: its backoff timer (ms). */
async function timerAfterOne503(p: PaymentRequest): Promise<number> {
  h.imt.faults.set({ failNext: 1, errorStatus: 503, routes: [POST] });
  await startAfterManyAttempts(p, 12);
  return firstTimerMs(workflowIds.payment(p.transaction_id));
}

async function wakeAndExpectPostedOnce(p: PaymentRequest): Promise<void> {
  const handle = h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));
  expect((await handle.query<PaymentState>('state')).status).toBe(PaymentStatus.MAYBE_POSTED);
  await handle.signal('retry', { by: 'test' });
  const outcome = await handle.result();
  expect(outcome.status).toBe(PaymentStatus.POSTED);
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
    await wakeAndExpectPostedOnce(p);
  });

  it('retries within 30 s on a quiet system: IMT answered nothing lately, but few postings failed', async () => {
    // Nothing else calls IMT (the chaos run's settling phase); this is the worker's second failure.
    await eventually(async () => !h.deps.imt.answeredOkWithin(WINDOW_MS), 10_000);
    const p = seedPayment(h.imt);
    expect(await timerAfterOne503(p)).toBe(ONE_OFF_RETRY_MAX_MS);
    h.imt.faults.clear();
    await wakeAndExpectPostedOnce(p);
  });

  it('keeps the 5-minute cap in an outage: IMT answers nothing and more postings fail than the budget', async () => {
    await eventually(async () => !h.deps.imt.answeredOkWithin(WINDOW_MS), 10_000);
    h.imt.faults.set({ reset: true, routes: [POST] });
    // One after the other, so the last one's failure is past the budget whatever ran before.
    const payments = Array.from({ length: BUDGET + 1 }, () => seedPayment(h.imt));
    const timers: number[] = [];
    for (const p of payments) {
      await startAfterManyAttempts(p, 12);
      timers.push(await firstTimerMs(workflowIds.payment(p.transaction_id)));
    }

    expect(timers.at(-1)).toBe(RETRY_MAX_MS);
    for (const t of timers) expect([ONE_OFF_RETRY_MAX_MS, RETRY_MAX_MS]).toContain(t);
    h.imt.faults.clear();
    for (const p of payments) await wakeAndExpectPostedOnce(p);
  });
});
