/**
 * Overload (issue 13): the ingress bounds what it holds. Past INGRESS_MAX_IN_FLIGHT it
 * answers 429 with Retry-After and starts nothing; past a quarter of it a payment is only
 * started — durably — and answered 202 at once. Nothing admitted is lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowIds, type PaymentRequest } from '../../domain';
import { startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

const POST = '/api/integration/invoice/post-payment';
/** Long, so that "answered at once" and "waited out the window" stay far apart on a loaded machine. */
const WINDOW_MS = 15_000;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'admission', maxInFlight: 3, confirmWaitMs: WINDOW_MS, imtTimeoutMs: 1000 });
});
afterAll(async () => {
  await h?.stop();
});

async function exists(workflowId: string): Promise<boolean> {
  try {
    await h.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

const voidOf = (p: PaymentRequest) => ({
  customer: p.customer,
  invoice_number: p.invoice_number,
  transaction_id: p.transaction_id,
  amount: p.amount,
  message: '',
});

it('answers 202 at once past a quarter of the limit, 429 at it, and loses nothing admitted', async () => {
  // IMT holds every post: nothing can be confirmed within the window.
  h.imt.faults.set({ hang: true, routes: [POST] });
  const payments = [seedPayment(h.imt), seedPayment(h.imt), seedPayment(h.imt), seedPayment(h.imt)];
  const [p1, p2, p3, p4] = payments;

  // Past a quarter of the limit: started, and answered 202 without waiting out the window.
  for (const p of [p1, p2, p3]) {
    const started = Date.now();
    const res = await h.http.post(POST, p);
    expect(res.status).toBe(202);
    expect(res.data).toMatchObject({ transaction_id: p.transaction_id, status: 'RECEIVED' });
    expect(Date.now() - started).toBeLessThan(WINDOW_MS / 2);
    expect(await exists(workflowIds.payment(p.transaction_id))).toBe(true);
  }

  // Three voids that wait on their (uncertain) payments hold every slot …
  const voids = [p1, p2, p3].map((p) => h.http.post('/api/integration/invoice/void-payment', voidOf(p)));
  await new Promise((r) => setTimeout(r, 700));
  // … so the next call is refused before anything is started.
  const refused = await h.http.post(POST, p4);
  expect(refused.status).toBe(429);
  expect(refused.headers['retry-after']).toBe('5');
  expect(refused.data.error).toBe('overloaded');
  expect(await exists(workflowIds.payment(p4.transaction_id))).toBe(false);
  for (const v of await Promise.all(voids)) expect(v.status).toBe(202);

  h.imt.faults.clear();
  // IC redelivers the refused one: posted once. The voided ones net zero in IMT.
  expect([201, 202]).toContain((await h.http.post(POST, p4)).status);
  await h.client.workflow.getHandle(workflowIds.payment(p4.transaction_id)).result();
  expect(h.imt.ledger().filter((x) => x.transaction_id === p4.transaction_id)).toHaveLength(1);
  for (const p of [p1, p2, p3]) {
    await h.client.workflow.getHandle(workflowIds.void(p.transaction_id)).result();
    const net = h.imt
      .ledger()
      .filter((x) => x.transaction_id === p.transaction_id)
      .reduce((sum, e) => sum + (e.kind === 'posting' ? 1 : -1), 0);
    expect(net).toBe(0);
  }
});
