/**
 * IMT simulator, contracts C4 (payments and reversals by posting day in the biller's time
 * zone), read through the service's own `ImtClient.listPayments`; plus the out-of-band hooks.
 */
import { randomBytes } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpCallError } from '../../integrations/http';
import { ImtClient } from '../../integrations/imt-client';
import { startImtSimulator, type ImtSimulator } from '../../simulators/imt/server';
import { dayBounds, formatInZone } from '../../domain';

const INTEGRATOR_ID = randomBytes(16).toString('hex');
const TZ = 'America/Chicago';

let sim: ImtSimulator;
let client: ImtClient;
let raw: AxiosInstance;

beforeAll(async () => {
  sim = await startImtSimulator({ integratorId: INTEGRATOR_ID, billerTimeZone: TZ });
  client = new ImtClient({ baseUrl: sim.url, integratorId: INTEGRATOR_ID });
  raw = axios.create({
    baseURL: sim.url,
    headers: { 'X-Integrator-ID': INTEGRATOR_ID },
    validateStatus: () => true,
  });
});
afterAll(async () => sim.close());
beforeEach(() => sim.reset());

const direct = (n: number, postedAt: string, extra: Record<string, string> = {}) =>
  sim.payments.postDirectly({
    transaction_id: `T${n}`,
    customer: '0406',
    invoice_number: '040620220901',
    amount: '10.00',
    posted_at: postedAt,
    ...extra,
  });

describe('business days', () => {
  it('bounds a day in the biller’s zone, across DST', () => {
    expect(dayBounds('2022-10-03', TZ)).toEqual({
      start: new Date('2022-10-03T05:00:00Z'),
      end: new Date('2022-10-04T05:00:00Z'),
    });
    // 2022-11-06: CDT → CST, a 25-hour day.
    const fall = dayBounds('2022-11-06', TZ);
    expect(fall.end.getTime() - fall.start.getTime()).toBe(25 * 3600_000);
    expect(formatInZone(new Date('2022-10-03T21:42:56Z'), TZ)).toBe('2022-10-03T16:42:56-05:00');
  });
});

/** One page of IC's payments posted from `postedFrom` to `postedTo` (both inclusive). */
const list = (postedFrom: string, postedTo: string, page: number, pageSize: number) =>
  client.listPayments({ postedFrom, postedTo, page, pageSize });

describe('GET /api/integration/payments (C4)', () => {
  it('lists a day in the biller’s zone, both dates inclusive, with reversals, paged like C1', async () => {
    direct(1, '2022-10-03T05:00:00Z'); // 00:00 Chicago on the 3rd
    direct(2, '2022-10-04T04:59:59Z'); // 23:59:59 on the 3rd
    direct(3, '2022-10-04T05:00:00Z'); // the 4th
    direct(4, '2022-10-03T04:59:59Z'); // the 2nd
    direct(5, '2022-10-03T12:00:00Z', { source: 'counter' }); // not from IC
    sim.payments.reverseDirectly({ transaction_id: 'T2', reversed_at: '2022-10-05T14:12:00Z' });

    const day = await list('2022-10-03', '2022-10-03', 1, 10);
    expect(day.count).toBe(2);
    expect(day.next).toBeNull();
    expect(day.results.map((p) => p.transaction_id)).toEqual(['T1', 'T2']);
    expect(day.results[1]).toMatchObject({
      amount: '10.00',
      posted_at: '2022-10-03T23:59:59-05:00',
      reversals: [
        {
          reversal_type: 'void',
          return_code: null,
          amount: '10.00',
          reversed_at: '2022-10-05T09:12:00-05:00',
        },
      ],
    });

    const two = await list('2022-10-02', '2022-10-04', 1, 2);
    expect(two.count).toBe(4);
    expect(two.next).toContain('page=2');
    const second = await list('2022-10-02', '2022-10-04', 2, 2);
    expect(second.previous).toContain('page=1');
    expect(second.next).toBeNull();
    expect([...two.results, ...second.results].map((p) => p.transaction_id).sort()).toEqual([
      'T1',
      'T2',
      'T3',
      'T4',
    ]);

    const past = list('2022-10-03', '2022-10-03', 2, 10);
    await expect(past).rejects.toBeInstanceOf(HttpCallError);
    await expect(past).rejects.toMatchObject({ status: 404 });
    // An empty day is one empty page.
    const empty = await list('2022-01-01', '2022-01-01', 1, 10);
    expect(empty).toMatchObject({ count: 0, next: null, results: [] });
  });

  it('validates the query', async () => {
    const get = (q: string) => raw.get(`/api/integration/payments?${q}`);
    const ok = 'source=invoice_cloud&posted_from=2022-10-03&posted_to=2022-10-03';
    expect((await get(ok)).status).toBe(200);
    expect((await get('posted_from=2022-10-03&posted_to=2022-10-03')).data).toEqual({
      source: ['This field is required.'],
    });
    expect((await get('source=invoice_cloud&posted_from=2022-02-30&posted_to=2022-10-03')).status).toBe(400);
    expect(
      (await get('source=invoice_cloud&posted_from=2022-10-04&posted_to=2022-10-03')).data,
    ).toHaveProperty('posted_to');
    expect((await get(`${ok}&page_size=1001`)).status).toBe(400);
    expect((await get(`${ok}&page=0`)).status).toBe(404);
    expect((await get(`${ok}&page=abc`)).status).toBe(404);
    expect(
      (await axios.get(`${sim.url}/api/integration/payments?${ok}`, { validateStatus: () => true })).status,
    ).toBe(403);
  });

  it('shows payments posted through the API and the out-of-band changes', async () => {
    sim.addInvoice({ invoice_number: '777720220901', customer: '7777', amount_due: '100.00' });
    const body = {
      customer: '7777',
      invoice_number: '777720220901',
      transaction_id: 'API-1',
      amount: '40.00',
      payment_method: 'echeck' as const,
      message: '',
      source: 'invoice_cloud',
    };
    await client.postPayment(body);
    const today = sim.payments.list({ postedFrom: '2000-01-01', postedTo: '2100-01-01' });
    expect(today.map((p) => p.transaction_id)).toEqual(['API-1']);

    sim.payments.alter('API-1', { amount: '41.00', invoice_number: '777720221001' });
    sim.payments.reverseDirectly({
      transaction_id: 'API-1',
      reversal_type: 'ach_reject',
      return_code: 'R01',
    });
    expect(sim.payments.list({ postedFrom: '2000-01-01', postedTo: '2100-01-01' })[0]).toMatchObject({
      amount: '41.00',
      invoice_number: '777720221001',
      reversals: [{ reversal_type: 'ach_reject', return_code: 'R01', amount: '41.00' }],
    });
    sim.payments.removeReversal('API-1');
    expect(sim.payments.list({ postedFrom: '2000-01-01', postedTo: '2100-01-01' })[0].reversals).toEqual([]);
    sim.payments.remove('API-1');
    expect(sim.payments.list({ postedFrom: '2000-01-01', postedTo: '2100-01-01' })).toEqual([]);
    expect(() => sim.payments.remove('API-1')).toThrow(/no payment/);

    // The same hooks over HTTP.
    const created = await raw.post('/_sim/payments/direct', {
      transaction_id: 'HTTP-1',
      customer: '1',
      invoice_number: '120220901',
      amount: '5',
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ amount: '5.00', source: 'invoice_cloud' });
    expect((await raw.post('/_sim/payments/direct', { transaction_id: 'x' })).status).toBe(400);
    expect((await raw.delete('/_sim/payments/HTTP-1')).status).toBe(200);
  });
});
