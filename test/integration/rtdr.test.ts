/** RTDR and bill-presentment pass-through (contracts B): IMT's answer, or 503 + Retry-After. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'rtdr', imtTimeoutMs: 500 });
  h.imt.addInvoice({
    invoice_number: '040620220901',
    customer: '0406',
    amount_due: '50.00',
    past_due: '50.00',
  });
});
afterAll(async () => {
  await h?.stop();
});

// Shaped like the IMT simulator's own detail test on purpose: here the same answer must come through the ingress.
describe('RTDR pass-through', () => {
  it('returns IMT’s invoice detail', async () => {
    const res = await h.http.get('/api/integration/invoice/040620220901/detail');
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      invoice_number: '040620220901',
      amount_due: '50.00',
      past_due: '50.00',
      customer: '0406',
    });
  });

  it('passes IMT’s 404 through', async () => {
    const res = await h.http.get('/api/integration/invoice/999920220901/detail');
    expect(res.status).toBe(404);
  });

  it('answers 503 with Retry-After when IMT hangs past the timeout', async () => {
    h.imt.faults.set({ hang: true, routes: ['/api/integration/invoice/040620220901/detail'] });
    const res = await h.http.get('/api/integration/invoice/040620220901/detail');
    h.imt.faults.clear();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });

  it('streams the bill PDF', async () => {
    const res = await h.http.get('/api/integration/invoice/040620220901/pdf', {
      responseType: 'arraybuffer',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/pdf');
    expect(Buffer.from(res.data).subarray(0, 5).toString()).toBe('%PDF-');
  });
});
