/**
 * Overload (issue 13): the ingress bounds what it holds. Past INGRESS_MAX_IN_FLIGHT it
 * answers 429 with Retry-After and starts nothing; past half of it a payment is only
 * started — durably — and answered 202 at once. Nothing admitted is lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowIds } from '../../workflows/messages';
import { startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

const POST = '/api/integration/invoice/post-payment';
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'admission', maxInFlight: 2, confirmWaitMs: 4000, imtTimeoutMs: 1000 });
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

it('answers 429 past the limit, 202 at once past half of it, and loses nothing admitted', async () => {
  // IMT holds every post: a payment's wait holds its slot for the whole window.
  h.imt.faults.set({ hang: true, routes: [POST] });
  const [first, second, third] = [seedPayment(h.imt), seedPayment(h.imt), seedPayment(h.imt)];
  const waiting = h.http.post(POST, first);
  await new Promise((r) => setTimeout(r, 300));

  // One of two slots taken: past half, a payment is started and answered 202 at once.
  const started = Date.now();
  const quick = await h.http.post(POST, second);
  expect(quick.status).toBe(202);
  expect(quick.data).toMatchObject({ transaction_id: second.transaction_id, status: 'RECEIVED' });
  expect(Date.now() - started).toBeLessThan(3000); // not the 4 s window
  expect(await exists(workflowIds.payment(second.transaction_id))).toBe(true);

  // A void that waits on the second payment takes the other slot …
  const voiding = h.http.post('/api/integration/invoice/void-payment', {
    customer: second.customer,
    invoice_number: second.invoice_number,
    transaction_id: second.transaction_id,
    amount: second.amount,
    message: '',
  });
  await new Promise((r) => setTimeout(r, 500));
  // … so the next call is refused before anything is started.
  const refused = await h.http.post(POST, third);
  expect(refused.status).toBe(429);
  expect(refused.headers['retry-after']).toBe('5');
  expect(refused.data.error).toBe('overloaded');
  expect(await exists(workflowIds.payment(third.transaction_id))).toBe(false);

  expect((await waiting).status).toBe(202);
  expect((await voiding).status).toBe(202);
  h.imt.faults.clear();
  // IC redelivers the refused one; everything admitted ends right in IMT.
  expect([201, 202]).toContain((await h.http.post(POST, third)).status);
  for (const p of [first, third]) {
    await h.client.workflow.getHandle(workflowIds.payment(p.transaction_id)).result();
    expect(h.imt.ledger().filter((x) => x.transaction_id === p.transaction_id)).toHaveLength(1);
  }
  await h.client.workflow.getHandle(workflowIds.void(second.transaction_id)).result();
  const net = h.imt
    .ledger()
    .filter((x) => x.transaction_id === second.transaction_id)
    .reduce((sum, e) => sum + (e.kind === 'posting' ? 1 : -1), 0);
  expect(net).toBe(0);
});
