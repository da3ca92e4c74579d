import { randomBytes } from 'node:crypto';
import axios, { AxiosError, type AxiosResponse } from 'axios';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIF_COLUMNS, parseInvoiceFile } from '../../simulators/ic/bif-parser';
import { IC_ENDPOINT, IC_NAMESPACE, startIcSimulator, type IcSimulator } from '../../simulators/ic/server';
import { generateCycle } from '../../simulators/imt/dataset';
import { expectCloseReleases } from '../helpers/simulator-close';

const BILLER_GUID = '0F8FAD5B-D9CB-469F-A165-70867728950E';
// Generated per run: credentials are never literals in the repository.
const WEB_SERVICE_KEY = randomBytes(16).toString('hex');
const WRONG_KEY = randomBytes(16).toString('hex');
const HEADER = BIF_COLUMNS.join('|');

let sim: IcSimulator;

beforeAll(async () => {
  sim = await startIcSimulator({ billerGuid: BILLER_GUID, webServiceKey: WEB_SERVICE_KEY });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.reset();
});

// ---------------------------------------------------------------------------
// Helpers

type Row = Partial<Record<(typeof BIF_COLUMNS)[number], string>>;

function row(overrides: Row = {}): string {
  const base: Record<string, string> = {
    invoice_number: '040620220901',
    invoice_date: '2022-09-01',
    due_date: '2022-10-21',
    amount_due: '50.00',
    past_due_amount: '12.34',
    customer_id: '0406',
    customer_name: 'Zoë Ñúñez, "Jr"',
    address: 'Hauptstraße 12',
    address2: '',
    city: 'Des Moines',
    state: 'IA',
    ZIP: '50309',
    phone: '',
    email: 'zoe@example.com',
    registration_value: '',
  };
  const values = { ...base, ...overrides };
  return BIF_COLUMNS.map((c) => values[c]).join('|');
}

function file(lines: string[], ending = '\r\n'): Buffer {
  return Buffer.from(lines.join('\r\n') + ending, 'utf8');
}

const GOOD_FILE = file([
  HEADER,
  row(),
  row({ invoice_number: '040720220901', customer_id: '0407', past_due_amount: '' }),
]);

function envelope(method: string, fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
    `<${method} xmlns="${IC_NAMESPACE}"><Req>${inner}</Req></${method}>` +
    '</soap:Body></soap:Envelope>'
  );
}

async function soap(method: string, xml: string, action: string | null = `"${IC_NAMESPACE}${method}"`) {
  const headers: Record<string, string> = { 'Content-Type': 'text/xml; charset=utf-8' };
  if (action !== null) headers.SOAPAction = action;
  return axios.post<string>(`${sim.url}${IC_ENDPOINT}`, xml, {
    headers,
    responseType: 'text',
    validateStatus: () => true,
    maxBodyLength: Infinity,
  });
}

const credentials = { BillerGUID: BILLER_GUID, WebServiceKey: WEB_SERVICE_KEY };

function upload(fileName: string, content: Buffer, creds = credentials) {
  const xml = envelope('UploadInvoiceFile', {
    ...creds,
    FileName: fileName,
    FileContent: content.toString('base64'),
  });
  return soap('UploadInvoiceFile', xml);
}

function view(invoiceNumber: string, creds = credentials) {
  return soap(
    'ViewInvoiceByInvoiceNumber',
    envelope('ViewInvoiceByInvoiceNumber', { ...creds, InvoiceNumber: invoiceNumber }),
  );
}

const xml = new XMLParser({ removeNSPrefix: true, parseTagValue: false });

type Result = Record<string, string>;

function result(res: AxiosResponse<string>, method: string): Result {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/xml/);
  const doc = xml.parse(res.data) as { Envelope: { Body: Record<string, Record<string, Result>> } };
  return doc.Envelope.Body[`${method}Response`][`${method}Result`];
}

function fault(res: AxiosResponse<string>): { faultcode: string; faultstring: string } {
  const doc = xml.parse(res.data) as {
    Envelope: { Body: { Fault: { faultcode: string; faultstring: string } } };
  };
  return doc.Envelope.Body.Fault;
}

async function uploadResult(fileName: string, content: Buffer): Promise<Result> {
  return result(await upload(fileName, content), 'UploadInvoiceFile');
}

// ---------------------------------------------------------------------------

describe('UploadInvoiceFile and ViewInvoiceByInvoiceNumber', () => {
  it('loads a valid file and answers balances', async () => {
    const res = await upload('invoices_2022-09-01_abc123.txt', GOOD_FILE);
    expect(res.data).toContain(`<UploadInvoiceFileResponse xmlns="${IC_NAMESPACE}">`);
    expect(result(res, 'UploadInvoiceFile')).toEqual({
      Success: 'true',
      ErrorMessage: '',
      InvoiceCount: '2',
    });

    expect(result(await view('040620220901'), 'ViewInvoiceByInvoiceNumber')).toEqual({
      Success: 'true',
      BalanceDue: '50.00',
      PastDue: '12.34',
      ErrorMessage: '',
    });
    expect(result(await view('040720220901'), 'ViewInvoiceByInvoiceNumber').PastDue).toBe('0.00');
    expect(sim.invoices().get('040620220901')).toEqual({
      invoiceNumber: '040620220901',
      balanceDue: '50.00',
      pastDue: '12.34',
      accountNumber: '0406',
      customerName: 'Zoë Ñúñez, "Jr"',
      loadedFrom: 'invoices_2022-09-01_abc123.txt',
    });
    expect(sim.uploads()).toMatchObject([
      { success: true, invoiceCount: 2, duplicate: false, bytes: GOOD_FILE.length },
    ]);
  });

  it('answers Success=false for an invoice it does not have', async () => {
    const r = result(await view('nope'), 'ViewInvoiceByInvoiceNumber');
    expect(r.Success).toBe('false');
    expect(r.ErrorMessage).toBe('Invoice nope not found.');
  });

  it('accepts the same file name and content again without loading it twice', async () => {
    await uploadResult('a.txt', GOOD_FILE);
    sim.invoices(); // a copy: changing it must not change the simulator
    const again = await uploadResult('a.txt', GOOD_FILE);
    expect(again).toEqual({ Success: 'true', ErrorMessage: '', InvoiceCount: '2' });
    expect(sim.uploads().map((u) => u.duplicate)).toEqual([false, true]);
    expect(sim.invoices().size).toBe(2);
  });

  it('refuses the same file name with different content', async () => {
    await uploadResult('a.txt', GOOD_FILE);
    const changed = file([HEADER, row({ amount_due: '60.00' })]);
    const r = await uploadResult('a.txt', changed);
    expect(r.Success).toBe('false');
    expect(r.ErrorMessage).toBe('FileName a.txt was already loaded with different content.');
    expect(sim.invoices().get('040620220901')?.balanceDue).toBe('50.00');
  });

  it('lets a later file update an invoice balance', async () => {
    await uploadResult('a.txt', GOOD_FILE);
    await uploadResult('b.txt', file([HEADER, row({ amount_due: '0.00', past_due_amount: '0.00' })]));
    expect(sim.invoices().get('040620220901')).toMatchObject({ balanceDue: '0.00', loadedFrom: 'b.txt' });
  });

  it('answers authentication failures as Success=false without echoing the key', async () => {
    const badKey = await upload('a.txt', GOOD_FILE, { ...credentials, WebServiceKey: WRONG_KEY });
    const r = result(badKey, 'UploadInvoiceFile');
    expect(r).toEqual({
      Success: 'false',
      ErrorMessage: 'Authentication failed: invalid BillerGUID or WebServiceKey',
      InvoiceCount: '0',
    });
    expect(badKey.data).not.toContain(WRONG_KEY);
    const badGuid = result(
      await view('x', { ...credentials, BillerGUID: 'other' }),
      'ViewInvoiceByInvoiceNumber',
    );
    expect(badGuid.ErrorMessage).toMatch(/^Authentication failed/);
    expect(sim.invoices().size).toBe(0);
  });

  it('compares the BillerGUID case-insensitively', async () => {
    const r = await upload('a.txt', GOOD_FILE, { ...credentials, BillerGUID: BILLER_GUID.toLowerCase() });
    expect(result(r, 'UploadInvoiceFile').Success).toBe('true');
  });

  it('refuses uploads while told to, then accepts again', async () => {
    sim.rejectUploads('IC is processing another file <try later> & wait');
    const res = await upload('a.txt', GOOD_FILE);
    expect(res.data).toContain('&lt;try later&gt; &amp; wait');
    expect(result(res, 'UploadInvoiceFile')).toMatchObject({
      Success: 'false',
      ErrorMessage: 'IC is processing another file <try later> & wait',
    });
    sim.rejectUploads(null);
    expect((await uploadResult('a.txt', GOOD_FILE)).Success).toBe('true');
  });

  it('accepts a 100,000-invoice file (about 20 MB base64) within the body limit', async () => {
    const cycle = generateCycle({ seed: 2, invoiceMonth: '2022-09-01', count: 100_000, invalidEvery: 0 });
    const clean = (v: string | null): string => (v ?? '').replace(/[|\r\n]+/g, ' ');
    const lines = [HEADER];
    for (const inv of cycle) {
      const c = inv.customer_detail;
      lines.push(
        [
          inv.invoice_number,
          inv.invoice_date,
          inv.due_date,
          inv.amount_due,
          inv.past_due,
          c.customer_id,
          c.customer_name,
          c.address,
          c.address2,
          c.city,
          c.state,
          c.zip,
          c.phone,
          c.email,
          c.registration_value,
        ]
          .map(clean)
          .join('|'),
      );
    }
    const r = await uploadResult('big.txt', file(lines));
    expect(r).toEqual({ Success: 'true', ErrorMessage: '', InvoiceCount: '100000' });
    expect(sim.invoices().get('100000' + '20220901')?.balanceDue).toBe(cycle.invoiceAt(99_999).amount_due);
  }, 60_000);
});

describe('invoice file validation', () => {
  async function refused(content: Buffer, fileName = 'bad.txt'): Promise<string> {
    const r = await uploadResult(fileName, content);
    expect(r.Success).toBe('false');
    expect(r.InvoiceCount).toBe('0');
    expect(sim.invoices().size).toBe(0);
    return r.ErrorMessage;
  }

  it('refuses a wrong header', async () => {
    const header = HEADER.replace('due_date|amount_due', 'amount_due|due_date');
    expect(await refused(file([header, row()]))).toMatch(
      /^Invoice file refused: line 1: header column 3 is "amount_due"/,
    );
    expect(await refused(file(['invoice_number|amount_due', row()]))).toMatch(
      /line 1: the header has 2 columns/,
    );
  });

  it('refuses a row with 14 columns and names the line', async () => {
    const short = row().split('|').slice(0, 14).join('|');
    expect(await refused(file([HEADER, row(), short]))).toMatch(
      /line 3: expected 15 fields separated by "\|", found 14/,
    );
  });

  it('refuses a bad amount and names line and field', async () => {
    const message = await refused(file([HEADER, row({ amount_due: '$50' })]));
    expect(message).toBe(
      'Invoice file refused: line 2, field amount_due: "$50" is not an amount in 0.00 form',
    );
    expect(await refused(file([HEADER, row({ past_due_amount: '1,000.00' })]))).toMatch(
      /field past_due_amount/,
    );
    expect(await refused(file([HEADER, row({ amount_due: '50.5' })]))).toMatch(/field amount_due/);
  });

  it('refuses a bare LF inside a line', async () => {
    const content = Buffer.from(`${HEADER}\r\n${row({ address2: 'Floor\n2' })}\r\n`, 'utf8');
    expect(await refused(content)).toMatch(/line 2: bare LF inside the line/);
    expect(await refused(Buffer.from(`${HEADER}\n${row()}\n`, 'utf8'))).toMatch(/line 1: bare LF/);
    expect(await refused(file([HEADER, row({ address: 'A\rB' })]))).toMatch(/line 2: bare CR/);
  });

  it('refuses missing required fields, bad dates and duplicates', async () => {
    expect(await refused(file([HEADER, row({ customer_name: ' ' })]))).toMatch(
      /line 2, field customer_name: required value is empty/,
    );
    expect(await refused(file([HEADER, row({ due_date: '2022-02-30' })]))).toMatch(/line 2, field due_date/);
    expect(await refused(file([HEADER, row({ invoice_date: '09/01/2022' })]))).toMatch(/field invoice_date/);
    expect(await refused(file([HEADER, row(), row()]))).toMatch(
      /line 3, field invoice_number: duplicate invoice number "040620220901" \(first on line 2\)/,
    );
  });

  it('reports several problems at once', async () => {
    const message = await refused(
      file([HEADER, row({ amount_due: 'x' }), row({ invoice_number: '', due_date: '' })]),
    );
    expect(message).toMatch(/^Invoice file refused: 3 problems: line 2, field amount_due/);
    expect(message).toMatch(/line 3, field invoice_number/);
    expect(message).toMatch(/line 3, field due_date/);
  });

  it('refuses a file name not ending in .txt, bad base64, an empty file, and non-UTF-8', async () => {
    expect(await refused(GOOD_FILE, 'invoices.csv')).toBe('FileName invoices.csv must end in .txt.');
    const r = result(
      await soap(
        'UploadInvoiceFile',
        envelope('UploadInvoiceFile', { ...credentials, FileName: 'a.txt', FileContent: 'not base64!' }),
      ),
      'UploadInvoiceFile',
    );
    expect(r.ErrorMessage).toBe('FileContent is not valid base64.');
    expect(await refused(Buffer.alloc(0))).toMatch(/file: the file is empty/);
    expect(await refused(Buffer.concat([Buffer.from(`${HEADER}\r\n`), Buffer.from([0xff, 0xfe])]))).toMatch(
      /not valid UTF-8/,
    );
  });

  it('accepts a file without a final CRLF and refuses an empty line inside', async () => {
    expect((await uploadResult('a.txt', file([HEADER, row()], ''))).InvoiceCount).toBe('1');
    sim.reset();
    expect(await refused(file([HEADER, '', row()]))).toMatch(/line 2: empty line/);
  });

  it('checks dates in the configured format', async () => {
    const us = await startIcSimulator({
      billerGuid: BILLER_GUID,
      webServiceKey: WEB_SERVICE_KEY,
      dateFormat: 'MM/DD/YYYY',
    });
    try {
      const content = file([HEADER, row({ invoice_date: '09/01/2022', due_date: '10/21/2022' })]);
      const xmlBody = envelope('UploadInvoiceFile', {
        ...credentials,
        FileName: 'us.txt',
        FileContent: content.toString('base64'),
      });
      const res = await axios.post<string>(`${us.url}${IC_ENDPOINT}`, xmlBody, {
        headers: {
          'Content-Type': 'text/xml; charset=utf-8',
          SOAPAction: `"${IC_NAMESPACE}UploadInvoiceFile"`,
        },
        responseType: 'text',
      });
      expect(result(res, 'UploadInvoiceFile').Success).toBe('true');
    } finally {
      await us.close();
    }
    expect(parseInvoiceFile(file([HEADER, row()]), { dateFormat: 'MM/DD/YYYY' }).ok).toBe(false);
  });

  it('refuses a byte-order mark', () => {
    const parsed = parseInvoiceFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), GOOD_FILE]));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problems[0].message).toMatch(/byte-order mark/);
  });
});

describe('SOAP protocol errors', () => {
  it('answers a 500 soap:Client fault for malformed XML', async () => {
    const res = await soap('UploadInvoiceFile', '<soap:Envelope><soap:Body><UploadInvoiceFile>');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    const f = fault(res);
    expect(f.faultcode).toBe('soap:Client');
    expect(f.faultstring).toMatch(/not well-formed XML/);
  });

  it('answers a fault for a missing or unknown SOAPAction', async () => {
    const body = envelope('ViewInvoiceByInvoiceNumber', { ...credentials, InvoiceNumber: '1' });
    const missing = await soap('ViewInvoiceByInvoiceNumber', body, null);
    expect(missing.status).toBe(500);
    expect(fault(missing).faultstring).toBe('Missing SOAPAction HTTP header.');
    const unknown = await soap('ViewInvoiceByInvoiceNumber', body, `"${IC_NAMESPACE}DeleteEverything"`);
    expect(unknown.status).toBe(500);
    expect(fault(unknown).faultstring).toMatch(/did not recognize the value of HTTP Header SOAPAction/);
    const mismatch = await soap('ViewInvoiceByInvoiceNumber', body, `"${IC_NAMESPACE}UploadInvoiceFile"`);
    expect(fault(mismatch).faultstring).toMatch(/Body contains ViewInvoiceByInvoiceNumber/);
  });

  it('answers a 415 fault for a body that is not text/xml', async () => {
    const res = await axios.post<string>(`${sim.url}${IC_ENDPOINT}`, '{}', {
      headers: { 'Content-Type': 'application/json', SOAPAction: `"${IC_NAMESPACE}UploadInvoiceFile"` },
      responseType: 'text',
      validateStatus: () => true,
    });
    expect(res.status).toBe(415);
    expect(fault(res)).toMatchObject({
      faultcode: 'soap:Client',
      faultstring: 'Content-Type must be text/xml (SOAP 1.1).',
    });
  });

  it('answers a fault when the body is not a SOAP envelope', async () => {
    const res = await soap('UploadInvoiceFile', '<hello/>');
    expect(res.status).toBe(500);
    expect(fault(res).faultstring).toMatch(/not a SOAP 1.1 envelope/);
  });
});

describe('faults and control routes', () => {
  it('answers SOAP faults at errorRate 1 and keeps control routes reachable', async () => {
    sim.faults.set({ errorRate: 1 });
    const res = await view('x');
    expect(res.status).toBe(500);
    expect(fault(res).faultcode).toBe('soap:Server');
    expect((await axios.get(`${sim.url}/_sim/health`)).data).toEqual({ status: 'ok' });
    await axios.delete(`${sim.url}/_sim/faults`);
    expect((await view('x')).status).toBe(200);
  });

  it('supports maintenance, rate limiting and connection resets', async () => {
    sim.faults.set({ maintenance: true });
    const maintenance = await view('x');
    expect(maintenance.status).toBe(503);
    expect(maintenance.headers['retry-after']).toBe('1');
    sim.faults.set({ maintenance: false, rateLimitRetryAfterSeconds: 3 });
    const limited = await view('x');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    sim.faults.set({ rateLimitRetryAfterSeconds: null, reset: true });
    const err = await view('x').catch((e: unknown) => e);
    expect((err as AxiosError).code).toBe('ECONNRESET');
  });

  it('exposes uploads and invoices, switches rejection and resets over HTTP', async () => {
    await uploadResult('a.txt', GOOD_FILE);
    const base = sim.url;
    expect((await axios.get(`${base}/_sim/uploads`)).data).toHaveLength(1);
    expect((await axios.get(`${base}/_sim/invoices/040620220901`)).data).toMatchObject({
      balanceDue: '50.00',
    });
    expect((await axios.get(`${base}/_sim/invoices/nope`, { validateStatus: () => true })).status).toBe(404);
    await axios.post(`${base}/_sim/reject-uploads`, { message: 'closed' });
    expect((await uploadResult('b.txt', GOOD_FILE)).ErrorMessage).toBe('closed');
    await axios.post(`${base}/_sim/reject-uploads`, { message: null });
    await axios.put(`${base}/_sim/faults`, { failNext: 1 });
    expect((await view('040620220901')).status).toBe(500);
    await axios.post(`${base}/_sim/reset`);
    expect(sim.uploads()).toHaveLength(0);
    expect(sim.invoices().size).toBe(0);
    expect(sim.faults.get().failNext).toBe(0);
  });

  it('releases a hung request when the server closes', async () => {
    const own = await startIcSimulator({ billerGuid: BILLER_GUID, webServiceKey: WEB_SERVICE_KEY });
    own.faults.set({ hang: true });
    const pending = axios
      .post(`${own.url}${IC_ENDPOINT}`, '<x/>', { headers: { 'Content-Type': 'text/xml' } })
      .catch((e: unknown) => e);
    await expectCloseReleases(() => own.close(), pending);
  });
});
