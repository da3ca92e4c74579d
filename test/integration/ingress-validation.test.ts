/** The ingress's contract for bad input (contracts B): precise 4xx, nothing started, nothing posted. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowIds } from '../../domain';
import { startHarness, uniqueId, type Harness } from '../helpers/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'ingress' });
});
afterAll(async () => {
  await h?.stop();
});

const valid = () => ({
  customer: '0406',
  invoice_number: '040620220901',
  transaction_id: uniqueId('T'),
  amount: '50.00',
  payment_method: 'echeck',
  message: '',
  source: 'invoice_cloud',
});

async function expectNoWorkflow(txid: string) {
  await expect(h.client.workflow.getHandle(workflowIds.payment(txid)).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
}

describe('ingress validation', () => {
  it('rejects malformed JSON with 400', async () => {
    const res = await h.http.post('/api/integration/invoice/post-payment', '{"customer": ', {
      headers: { 'Content-Type': 'application/json' },
      transformRequest: [(data: string) => data],
    });
    expect(res.status).toBe(400);
    expect(res.data.error).toBe('invalid_json');
  });

  it('names every missing field', async () => {
    const res = await h.http.post('/api/integration/invoice/post-payment', { customer: '0406' });
    expect(res.status).toBe(400);
    expect(Object.keys(res.data.fields).sort()).toEqual(
      ['amount', 'invoice_number', 'message', 'payment_method', 'source', 'transaction_id'].sort(),
    );
    expect(res.data.fields.amount).toEqual(['is required']);
  });

  it('rejects unknown fields instead of ignoring them', async () => {
    const body = { ...valid(), fee: '1.00' };
    const res = await h.http.post('/api/integration/invoice/post-payment', body);
    expect(res.status).toBe(400);
    expect(res.data.fields).toEqual({ fee: ['unknown field (not part of the contract)'] });
    await expectNoWorkflow(body.transaction_id);
  });

  it.each([
    ['-1', 'greater than zero'],
    ['1.005', 'at most two decimals'],
    ['abc', 'is not a number'],
    ['0', 'greater than zero'],
    ['0.00', 'greater than zero'],
  ])('rejects amount %s (%s)', async (amount, why) => {
    const body = { ...valid(), amount };
    const res = await h.http.post('/api/integration/invoice/post-payment', body);
    expect(res.status).toBe(400);
    expect(res.data.fields.amount.join(' ')).toContain(why);
    await expectNoWorkflow(body.transaction_id);
  });

  it('rejects a numeric amount and an unknown payment method', async () => {
    const res = await h.http.post('/api/integration/invoice/post-payment', {
      ...valid(),
      amount: 50,
      payment_method: 'bitcoin',
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.data.fields).sort()).toEqual(['amount', 'payment_method']);
  });

  it('answers 405 with Allow to a wrong method', async () => {
    const res = await h.http.get('/api/integration/invoice/post-payment');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  it('answers 403 without or with a wrong X-Integrator-ID', async () => {
    const body = valid();
    const none = await h.http.post('/api/integration/invoice/post-payment', body, {
      headers: { 'X-Integrator-ID': '' },
    });
    expect(none.status).toBe(403);
    const wrong = await h.http.post('/api/integration/invoice/post-payment', body, {
      headers: { 'X-Integrator-ID': `${h.ingressIntegratorId}x` },
    });
    expect(wrong.status).toBe(403);
    expect(JSON.stringify(wrong.data)).not.toContain(h.ingressIntegratorId);
    await expectNoWorkflow(body.transaction_id);
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const res = await h.http.post('/api/integration/invoice/post-payment', {
      ...valid(),
      message: 'x'.repeat(70_000),
    });
    expect(res.status).toBe(413);
  });

  it('answers 404 for an unknown payment status', async () => {
    const res = await h.http.get(`/api/integration/payments/${uniqueId('nope')}`);
    expect(res.status).toBe(404);
  });

  it('reports health: Temporal reachable and a worker polling each pool', async () => {
    const res = await h.http.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      status: 'ok',
      checks: { temporal: 'ok', worker: 'ok', bulk_worker: 'ok' },
    });
  });
});
