import { randomBytes } from 'node:crypto';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultController } from '../../simulators/faults';
import { generateCycle } from '../../simulators/imt/dataset';
import { startImtSimulator, type ImtSimulator } from '../../simulators/imt/server';
import { expectCloseReleases } from '../helpers/simulator-close';

// Generated per run: credentials are never literals in the repository.
const INTEGRATOR_ID = randomBytes(16).toString('hex');
const MONTH = '2022-09-01';
const CYCLE = { seed: 11, invoiceMonth: MONTH, count: 450 };

let sim: ImtSimulator;
let imt: AxiosInstance;

beforeAll(async () => {
  sim = await startImtSimulator({ integratorId: INTEGRATOR_ID, cycles: [CYCLE] });
  imt = axios.create({
    baseURL: sim.url,
    headers: { 'X-Integrator-ID': INTEGRATOR_ID },
    validateStatus: () => true,
  });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.reset();
});

/** The fields a payment and its reversal share: both name the same transaction. */
const TRANSACTION = {
  customer: '0406',
  invoice_number: '040620220901',
  transaction_id: 'c1a7f0e2-0000-4000-8000-000000000001',
  amount: '50.00',
  message: '',
  source: 'invoice_cloud',
};

function payment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...TRANSACTION, payment_method: 'credit', ...overrides };
}

function reversal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...TRANSACTION, reversal_type: 'void', return_code: null, ...overrides };
}

const post = (body: unknown) => imt.post('/api/integration/invoice/post-payment', body);
const reverse = (body: unknown) => imt.post('/api/integration/invoice/reverse-payment', body);
const detail = (n: string) => imt.get(`/api/integration/invoice/${n}/detail`);
const listPage = (query: Record<string, string | number>) =>
  imt.get('/api/integration/invoices', { params: query });

describe('authentication', () => {
  it('answers 403 without or with a wrong X-Integrator-ID', async () => {
    const missing = await axios.get(`${sim.url}/api/integration/invoice/040620220901/detail`, {
      validateStatus: () => true,
    });
    expect(missing.status).toBe(403);
    expect(missing.data).toEqual({ detail: 'Authentication credentials were not provided or are invalid.' });

    const wrong = await imt.get('/api/integration/invoice/040620220901/detail', {
      headers: { 'X-Integrator-ID': `${INTEGRATOR_ID}x` },
    });
    expect(wrong.status).toBe(403);
    const wrongPost = await imt.post('/api/integration/invoice/post-payment', payment(), {
      headers: { 'X-Integrator-ID': 'nope' },
    });
    expect(wrongPost.status).toBe(403);
    expect(sim.postings()).toHaveLength(0);
  });

  it('leaves control routes open', async () => {
    const res = await axios.get(`${sim.url}/_sim/health`);
    expect(res.data).toEqual({ status: 'ok' });
  });
});

describe('invoice detail and PDF', () => {
  it('answers a generated invoice shaped exactly like the design example', async () => {
    const res = await detail('040620220901');
    expect(res.status).toBe(200);
    expect(Object.keys(res.data)).toEqual([
      'id',
      'amount_due',
      'past_due',
      'invoice_number',
      'total_amount',
      'paid_amount',
      'invoice_month',
      'sent',
      'status',
      'due_date',
      'created',
      'updated',
      'customer',
    ]);
    const listed = generateCycle(CYCLE).invoiceAt(405);
    expect(res.data).toMatchObject({
      invoice_number: '040620220901',
      customer: '0406',
      amount_due: listed.amount_due,
      past_due: listed.past_due,
      total_amount: listed.total_amount,
      paid_amount: '0.00',
      invoice_month: MONTH,
      sent: true,
      status: 'F',
      due_date: '2022-10-21',
    });
    expect(typeof res.data.id).toBe('number');
    expect(res.data.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-05:00$/);
  });

  it('answers 404 for unknown invoices, including numbers past the cycle', async () => {
    for (const n of ['999999', '045120220901', '040620221001']) {
      const res = await detail(n);
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ detail: 'Not found.' });
    }
  });

  it('serves invoices added by tests', async () => {
    sim.addInvoice({
      invoice_number: 'T-1',
      customer: '77',
      amount_due: '12.5',
      invoice_month: '2023-01-01',
    });
    // Shaped like rtdr.test.ts on purpose: that test reads the same answer through the ingress.
    const res = await detail('T-1');
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      invoice_number: 'T-1',
      customer: '77',
      amount_due: '12.50',
      past_due: '0.00',
    });
  });

  it('serves a valid bill PDF generated for the invoice, and 404', async () => {
    const res = await imt.get('/api/integration/invoice/040620220901/pdf', { responseType: 'arraybuffer' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const bytes = Buffer.from(res.data as ArrayBuffer);
    const text = bytes.toString('latin1');
    expect(text.startsWith('%PDF-1.')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    // A real cross-reference table: `startxref` points at the `xref` keyword.
    const startxref = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(text)?.[1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    expect(text).toContain('(Invoice 040620220901)');
    expect((await imt.get('/api/integration/invoice/nope/pdf')).status).toBe(404);
  });
});

describe('post-payment', () => {
  it('posts once (201), answers an exact repeat with the original (200) and creates nothing more', async () => {
    const before = (await detail('040620220901')).data;
    const first = await post(payment());
    expect(first.status).toBe(201);
    expect(first.data).toMatchObject({
      customer: '0406',
      invoice_number: '040620220901',
      transaction_id: payment().transaction_id,
      amount: '50.00',
      payment_method: 'credit',
      message: '',
      source: 'invoice_cloud',
    });
    expect(Object.keys(first.data).sort()).toEqual(
      [
        'amount',
        'customer',
        'id',
        'invoice_number',
        'message',
        'payment_method',
        'posted_at',
        'source',
        'transaction_id',
      ].sort(),
    );

    const repeat = await post(payment());
    expect(repeat.status).toBe(200);
    expect(repeat.data).toEqual(first.data);
    expect(sim.postings()).toHaveLength(1);
    expect(sim.ledger('040620220901')).toHaveLength(1);
    expect(sim.ledger()[0]).toMatchObject({
      kind: 'posting',
      amount: '50.00',
      transaction_id: payment().transaction_id,
    });

    const after = (await detail('040620220901')).data;
    expect(cents(after.amount_due)).toBe(cents(before.amount_due) - 5000);
    expect(after.paid_amount).toBe('50.00');
  });

  it('refuses a repeat of the transaction_id with a different body', async () => {
    expect((await post(payment())).status).toBe(201);
    const res = await post(payment({ amount: '40.00' }));
    expect(res.status).toBe(400);
    expect(res.data).toEqual({
      transaction_id: [`Transaction ${payment().transaction_id} was already posted with different data.`],
    });
    expect(sim.postings()).toHaveLength(1);
  });

  it('answers DRF-style reasons for invalid fields', async () => {
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{ amount: 'abc' }, { amount: ['A valid number is required.'] }],
      [{ amount: 50 }, { amount: ['A valid number is required.'] }],
      [{ amount: '10.123' }, { amount: ['Ensure that there are no more than 2 decimal places.'] }],
      [{ amount: '0.00' }, { amount: ['Ensure this value is greater than or equal to 0.01.'] }],
      [{ payment_method: 'bitcoin' }, { payment_method: ['"bitcoin" is not a valid choice.'] }],
      [{ customer: '' }, { customer: ['This field may not be blank.'] }],
      [{ source: undefined }, { source: ['This field is required.'] }],
      [{ invoice_number: '123' }, { invoice_number: ['Invoice 123 does not exist.'] }],
      [{ customer: '0407' }, { customer: ['Invoice 040620220901 does not belong to customer 0407.'] }],
    ];
    for (const [overrides, reasons] of cases) {
      const res = await post(payment({ ...overrides, transaction_id: `tx-${JSON.stringify(overrides)}` }));
      expect(res.status, JSON.stringify(overrides)).toBe(400);
      expect(res.data).toEqual(reasons);
    }
    const notObject = await post([1, 2]);
    expect(notObject.status).toBe(400);
    expect(notObject.data).toEqual({
      non_field_errors: ['Invalid data. Expected a dictionary, but got list.'],
    });
    expect(sim.postings()).toHaveLength(0);
  });

  it('accepts an empty message and every payment method', async () => {
    for (const [i, method] of ['cash', 'credit', 'check', 'echeck', 'other'].entries()) {
      const res = await post(payment({ transaction_id: `m-${i}`, payment_method: method, amount: '1' }));
      expect(res.status).toBe(201);
      expect(res.data.amount).toBe('1.00');
    }
  });

  it('answers configured rejections until cleared', async () => {
    sim.rejectPostsFor('040620220901', { non_field_errors: ['Invoice is closed.'] });
    const rejected = await post(payment());
    expect(rejected.status).toBe(400);
    expect(rejected.data).toEqual({ non_field_errors: ['Invoice is closed.'] });
    sim.clearRejections();
    expect((await post(payment())).status).toBe(201);
  });
});

describe('reverse-payment', () => {
  it('reverses a posted payment (201), restores the balance and is idempotent', async () => {
    const before = (await detail('040620220901')).data;
    const posted = (await post(payment())).data;
    const res = await reverse(reversal());
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({
      transaction_id: payment().transaction_id,
      reversal_type: 'void',
      return_code: null,
      amount: '50.00',
      payment_id: posted.id,
    });
    expect(Object.keys(res.data).sort()).toEqual(
      ['amount', 'id', 'payment_id', 'return_code', 'reversal_type', 'reversed_at', 'transaction_id'].sort(),
    );
    const after = (await detail('040620220901')).data;
    expect(after.amount_due).toBe(before.amount_due);
    expect(after.past_due).toBe(before.past_due);
    expect(after.paid_amount).toBe('0.00');

    const repeat = await reverse(reversal());
    expect(repeat.status).toBe(200);
    expect(repeat.data).toEqual(res.data);
    expect(sim.reversals()).toHaveLength(1);
    expect(sim.ledger('040620220901').map((e) => e.kind)).toEqual(['posting', 'reversal']);

    const different = await reverse(reversal({ message: 'second thoughts' }));
    expect(different.status).toBe(400);
    expect(different.data.transaction_id[0]).toMatch(/already reversed \(void\) with different data/);
  });

  it('refuses a second reversal of the other type', async () => {
    await post(payment({ payment_method: 'echeck' }));
    expect((await reverse(reversal())).status).toBe(201);
    const res = await reverse(reversal({ reversal_type: 'ach_reject', return_code: 'R01' }));
    expect(res.status).toBe(400);
    expect(res.data).toEqual({
      transaction_id: [`Payment ${payment().transaction_id} is already reversed (void).`],
    });
  });

  it('records an ACH reject with its return code', async () => {
    await post(payment({ payment_method: 'echeck' }));
    const res = await reverse(reversal({ reversal_type: 'ach_reject', return_code: 'R03' }));
    expect(res.status).toBe(201);
    expect(res.data.return_code).toBe('R03');
    expect(sim.ledger().at(-1)).toMatchObject({
      kind: 'reversal',
      reversal_type: 'ach_reject',
      return_code: 'R03',
    });
  });

  it('answers 404 for an unknown transaction and 400 for a wrong amount or return code', async () => {
    expect((await reverse(reversal({ transaction_id: 'never-posted' }))).status).toBe(404);
    await post(payment());
    const wrongAmount = await reverse(reversal({ amount: '49.99' }));
    expect(wrongAmount.status).toBe(400);
    expect(wrongAmount.data.amount[0]).toMatch(/does not match/);
    const noCode = await reverse(reversal({ reversal_type: 'ach_reject', return_code: null }));
    expect(noCode.status).toBe(400);
    expect(noCode.data).toHaveProperty('return_code');
    const badCode = await reverse(reversal({ reversal_type: 'ach_reject', return_code: 'R99' }));
    expect(badCode.status).toBe(400);
    const voidWithCode = await reverse(reversal({ return_code: 'R01' }));
    expect(voidWithCode.status).toBe(400);
    expect(sim.reversals()).toHaveLength(0);
  });
});

describe('cycle listing (C1)', () => {
  it('pages through the cycle with absolute next/previous links', async () => {
    const first = await listPage({ invoice_month: MONTH, page: 1, page_size: 200 });
    expect(first.status).toBe(200);
    expect(first.data.count).toBe(450);
    expect(first.data.previous).toBeNull();
    expect(first.data.results).toHaveLength(200);
    const next = new URL(first.data.next);
    expect(next.origin).toBe(sim.url);
    expect(Object.fromEntries(next.searchParams)).toEqual({
      invoice_month: MONTH,
      page: '2',
      page_size: '200',
    });

    const last = await listPage({ invoice_month: MONTH, page: 3, page_size: 200 });
    expect(last.data.results).toHaveLength(50);
    expect(last.data.next).toBeNull();
    expect(new URL(last.data.previous).searchParams.get('page')).toBe('2');

    const cycle = generateCycle(CYCLE);
    expect(first.data.results[0]).toEqual(cycle.invoiceAt(0));
    expect(last.data.results[49]).toEqual(cycle.invoiceAt(449));
  });

  it('reaches every invoice exactly once by following next', async () => {
    const numbers: string[] = [];
    let url: string | null = `${sim.url}/api/integration/invoices?invoice_month=${MONTH}&page_size=100`;
    while (url) {
      const res: { data: { next: string | null; results: { invoice_number: string }[] } } =
        await imt.get(url);
      numbers.push(...res.data.results.map((r) => r.invoice_number));
      url = res.data.next;
    }
    expect(numbers).toHaveLength(450);
    expect(new Set(numbers).size).toBe(450);
    expect(sim.listPageRequests().map((p) => p.page)).toEqual([1, 2, 3, 4, 5]);
  });

  it('defaults to page 1 of 100, answers 404 past the end and 400 for page_size over 1000', async () => {
    const defaults = await listPage({ invoice_month: MONTH });
    expect(defaults.data.results).toHaveLength(100);
    expect(sim.listPageRequests()).toEqual([{ invoice_month: MONTH, page: 1, page_size: 100 }]);
    expect((await listPage({ invoice_month: MONTH, page: 6 })).status).toBe(404);
    expect((await listPage({ invoice_month: MONTH, page: 0 })).status).toBe(404);
    const tooBig = await listPage({ invoice_month: MONTH, page_size: 1001 });
    expect(tooBig.status).toBe(400);
    expect(tooBig.data).toHaveProperty('page_size');
    expect((await listPage({ invoice_month: MONTH, page_size: 1000 })).status).toBe(200);
    expect((await listPage({})).status).toBe(400);
    expect((await listPage({ invoice_month: '2022-09-15' })).status).toBe(400);
  });

  it('lists an empty month as one empty page, and includes invoices added for the month', async () => {
    const empty = await listPage({ invoice_month: '2030-01-01' });
    expect(empty.data).toEqual({ count: 0, next: null, previous: null, results: [] });
    sim.addInvoice({ invoice_number: '999920300101', customer: '9999', amount_due: '10.00' });
    const one = await listPage({ invoice_month: '2030-01-01' });
    expect(one.data.count).toBe(1);
    expect(one.data.results[0]).toMatchObject({
      invoice_number: '999920300101',
      invoice_month: '2030-01-01',
    });
  });

  it('shows the invalid invoices of the cycle as they are', async () => {
    const page = await listPage({ invoice_month: MONTH, page: 1, page_size: 100 });
    expect(page.data.results[49].customer_detail.customer_name).toBe('');
    expect(page.data.results[99].due_date).toBeNull();
  });

  it('lists the current balance after a payment', async () => {
    await post(payment());
    const page = await listPage({ invoice_month: MONTH, page: 5, page_size: 100 });
    expect(page.data.results[5]).toMatchObject({ invoice_number: '040620220901', paid_amount: '50.00' });
  });
});

describe('faults', () => {
  const detailPath = '/api/integration/invoice/040620220901/detail';

  it('answers errorStatus for every request at errorRate 1, except control routes', async () => {
    sim.faults.set({ errorRate: 1, errorStatus: 502 });
    expect((await imt.get(detailPath)).status).toBe(502);
    expect((await imt.get('/_sim/health')).status).toBe(200);
    sim.faults.clear();
    expect((await imt.get(detailPath)).status).toBe(200);
  });

  it('fails the next N requests, then answers normally', async () => {
    sim.faults.set({ failNext: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await imt.get(detailPath)).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(sim.requestLog().map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('rate-limits with 429 and Retry-After', async () => {
    sim.faults.set({ rateLimitRetryAfterSeconds: 7 });
    const res = await imt.get(detailPath);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
  });

  it('answers 503 with Retry-After during maintenance', async () => {
    sim.faults.set({ maintenance: true });
    const res = await imt.post('/api/integration/invoice/post-payment', payment());
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.data.detail).toMatch(/maintenance/);
    expect(sim.postings()).toHaveLength(0);
  });

  it('adds latency', async () => {
    sim.faults.set({ latencyMs: 300 });
    const started = Date.now();
    expect((await imt.get(detailPath)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('resets the connection (client sees ECONNRESET)', async () => {
    sim.faults.set({ reset: true });
    const err = await imt.get(detailPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AxiosError);
    expect((err as AxiosError).code).toBe('ECONNRESET');
    expect(sim.requestLog()[0].status).toBe(0);
  });

  it('only affects the configured routes', async () => {
    sim.faults.set({ errorRate: 1, routes: ['/api/integration/invoice/post-payment'] });
    expect((await imt.get(detailPath)).status).toBe(200);
    expect((await post(payment())).status).toBe(500);
  });

  it('can be switched through PUT/DELETE /_sim/faults, refusing unknown settings', async () => {
    const put = await imt.put('/_sim/faults', { failNext: 1 });
    expect(put.status).toBe(200);
    expect(put.data.failNext).toBe(1);
    expect((await imt.put('/_sim/faults', { failnext: 1 })).status).toBe(400);
    expect((await imt.put('/_sim/faults', { errorRate: 2 })).status).toBe(400);
    expect((await imt.get(detailPath)).status).toBe(500);
    await imt.put('/_sim/faults', { maintenance: true });
    expect((await imt.delete('/_sim/faults')).data.maintenance).toBe(false);
    expect((await imt.get(detailPath)).status).toBe(200);
  });

  it('applies errorRate with the controller random source', () => {
    const faults = new FaultController(() => 0.3);
    faults.set({ errorRate: 0.5 });
    expect(faults.decide('/x').kind).toBe('error');
    faults.set({ errorRate: 0.2 });
    expect(faults.decide('/x').kind).toBe('none');
  });
});

describe('hang', () => {
  it('holds requests past the client timeout and releases them when the server closes', async () => {
    const own = await startImtSimulator({ integratorId: INTEGRATOR_ID });
    const client = axios.create({ baseURL: own.url, headers: { 'X-Integrator-ID': INTEGRATOR_ID } });
    own.faults.set({ hang: true });

    const timedOut = await client
      .get('/api/integration/invoice/x/detail', { timeout: 200 })
      .catch((e: unknown) => e);
    expect((timedOut as AxiosError).code).toBe('ECONNABORTED');

    const pending = client.get('/api/integration/invoice/x/detail').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(2000);
    const err = await pending;
    expect(err).toBeInstanceOf(AxiosError);
    expect((err as AxiosError).response).toBeUndefined();
  });

  it('drops a withheld answer once its client has given up, without a warning for many at once', async () => {
    const own = await startImtSimulator({ integratorId: INTEGRATOR_ID, cycles: [CYCLE] });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      own.faults.set({ applyThenHangNext: 12 });
      const calls = Array.from({ length: 12 }, (_, i) =>
        axios
          .post(`${own.url}/api/integration/invoice/post-payment`, payment({ transaction_id: `hang-${i}` }), {
            headers: { 'X-Integrator-ID': INTEGRATOR_ID },
            timeout: 300,
          })
          .catch((e: unknown) => e),
      );
      for (const err of await Promise.all(calls)) expect((err as AxiosError).code).toBe('ECONNABORTED');
      expect(own.postings()).toHaveLength(12); // applied, answer withheld
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Before: each withheld answer kept a one-day timer (and its request) alive.
      expect(timers()).toBeLessThanOrEqual(before);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await own.close();
    }
  });

  it('does not let a pending latency hold close() either', async () => {
    const own = await startImtSimulator({ integratorId: INTEGRATOR_ID });
    own.faults.set({ latencyMs: 60_000 });
    const pending = axios
      .get(`${own.url}/api/integration/invoice/x/detail`, { headers: { 'X-Integrator-ID': INTEGRATOR_ID } })
      .catch((e: unknown) => e);
    await expectCloseReleases(() => own.close(), pending);
  });
});

describe('control routes', () => {
  it('expose postings, reversals, ledger, requests and added invoices, and reset', async () => {
    const added = await imt.post('/_sim/invoices', {
      invoice_number: 'C-1',
      customer: 'C',
      amount_due: '20.00',
    });
    expect(added.status).toBe(201);
    await post(payment({ customer: 'C', invoice_number: 'C-1', amount: '20.00' }));
    await reverse(reversal({ customer: 'C', invoice_number: 'C-1', amount: '20.00' }));

    expect((await imt.get('/_sim/postings')).data).toHaveLength(1);
    expect((await imt.get('/_sim/reversals')).data).toHaveLength(1);
    expect((await imt.get('/_sim/ledger', { params: { invoice_number: 'C-1' } })).data).toHaveLength(2);
    expect((await imt.get('/_sim/ledger', { params: { invoice_number: 'other' } })).data).toHaveLength(0);
    const requests = (await imt.get('/_sim/requests')).data as {
      method: string;
      path: string;
      status: number;
    }[];
    expect(requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/api/integration/invoice/post-payment', 201],
      ['POST', '/api/integration/invoice/reverse-payment', 201],
    ]);

    expect((await imt.post('/_sim/invoices', { invoice_number: 'C-2' })).status).toBe(400);
    expect((await imt.post('/_sim/reset')).status).toBe(200);
    expect(sim.postings()).toHaveLength(0);
    expect(sim.requestLog()).toHaveLength(0);
    expect((await detail('C-1')).status).toBe(404);
  });
});

function cents(amount: string): number {
  return Math.round(Number(amount) * 100);
}
