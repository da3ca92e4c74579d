import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpCallError } from '../../integrations/http';
import { IC_NAMESPACE, InvoiceCloudClient, UPLOAD_CHUNK_BYTES } from '../../integrations/ic-client';

const KEY = 'wsk-9f8e7d6c5b4a-SECRET';
const BILLER = '11111111-2222-3333-4444-555555555555';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
type Handler = (req: Received, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let dir: string;
let handler: Handler;
let received: Received[] = [];
/** When set, request bodies are only counted (for the big upload), not kept. */
let countOnly = false;
let countedBytes = 0;
let bodyTail = '';

const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true });

function soapResponse(method: string, resultXml: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">' +
    `<soap:Body><${method}Response xmlns="${IC_NAMESPACE}"><${method}Result>${resultXml}</${method}Result>` +
    `</${method}Response></soap:Body></soap:Envelope>`
  );
}

function reply(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
  // No keep-alive: afterEach drops every connection, and a pooled socket closed under the
  // client would make the next test fail with ECONNRESET.
  res.writeHead(status, { 'Content-Type': 'text/xml; charset=utf-8', Connection: 'close', ...headers });
  res.end(xml);
}

/** A handler that answers HTTP 200 with `method`'s result holding `resultXml`. */
const answers =
  (method: string, resultXml: string): Handler =>
  (_req, res) =>
    reply(res, 200, soapResponse(method, resultXml));

const uploadOk = answers(
  'UploadInvoiceFile',
  '<Success>true</Success><ErrorMessage /><InvoiceCount>7</InvoiceCount>',
);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ic-client-test-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (countOnly) {
        countedBytes += c.length;
        bodyTail = (bodyTail + c.toString('latin1')).slice(-200);
      } else chunks.push(c);
    });
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(r);
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  received = [];
  countOnly = false;
  countedBytes = 0;
  bodyTail = '';
  server.closeAllConnections();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function client(timeoutMs?: number, url = baseUrl): InvoiceCloudClient {
  return new InvoiceCloudClient({ baseUrl: url, billerGuid: BILLER, webServiceKey: KEY, timeoutMs });
}

async function fileOf(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** Parsed `<Req>` of a received SOAP request. */
function reqOf(r: Received, method: string): Record<string, string> {
  const doc = parser.parse(r.body.toString('utf8')) as {
    Envelope: { Body: Record<string, { Req: Record<string, string> }> };
  };
  return doc.Envelope.Body[method].Req;
}

async function caught(p: Promise<unknown>): Promise<HttpCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpCallError);
  return err as HttpCallError;
}

function expectNoKey(err: unknown): void {
  const e = err as Error;
  expect(JSON.stringify(err)).not.toContain(KEY);
  expect(e.message).not.toContain(KEY);
  expect(String(e.stack)).not.toContain(KEY);
  expect(String(e)).not.toContain(KEY);
  expect((e as { cause?: unknown }).cause).toBeUndefined();
}

describe('InvoiceCloudClient.uploadInvoiceFile', () => {
  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['not a multiple of 3', 100],
    ['a multiple of 3', 3 * 1000],
    ['larger than the chunk size, not a multiple of 3', UPLOAD_CHUNK_BYTES * 2 + 2],
  ])('sends the exact SOAP request, file %s (%d bytes)', async (_label, size) => {
    handler = uploadOk;
    const bytes = randomBytes(size);
    const filePath = await fileOf(`f-${size}.txt`, bytes);

    const result = await client().uploadInvoiceFile({ fileName: 'invoices_2022-09-01_abc.txt', filePath });

    expect(result).toEqual({ success: true, errorMessage: '', invoiceCount: 7 });
    expect(received).toHaveLength(1);
    const r = received[0];
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/portal/webservices/CloudInvoicing.asmx');
    expect(r.headers['soapaction']).toBe(
      '"https://www.invoicecloud.com/portal/webservices/CloudInvoicing/UploadInvoiceFile"',
    );
    expect(r.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(Number(r.headers['content-length'])).toBe(r.body.length);

    const raw = r.body.toString('utf8');
    expect(raw).toContain(
      '<soap:Body><UploadInvoiceFile xmlns="https://www.invoicecloud.com/portal/webservices/CloudInvoicing/"><Req>',
    );
    expect(raw.endsWith('</FileContent></Req></UploadInvoiceFile></soap:Body></soap:Envelope>')).toBe(true);
    const req = reqOf(r, 'UploadInvoiceFile');
    expect(Object.keys(req)).toEqual(['BillerGUID', 'WebServiceKey', 'FileName', 'FileContent']);
    expect(req.BillerGUID).toBe(BILLER);
    expect(req.WebServiceKey).toBe(KEY);
    expect(req.FileName).toBe('invoices_2022-09-01_abc.txt');
    const content = req.FileContent ?? '';
    expect(content).toBe(bytes.toString('base64'));
    expect(Buffer.from(content, 'base64').equals(bytes)).toBe(true);
  });

  it('escapes & < > " \' in text values', async () => {
    handler = uploadOk;
    const filePath = await fileOf('esc.txt', Buffer.from('x'));
    await client().uploadInvoiceFile({ fileName: `a&b<c>"d'e.txt`, filePath });
    const raw = received[0].body.toString('utf8');
    expect(raw).toContain('<FileName>a&amp;b&lt;c&gt;&quot;d&apos;e.txt</FileName>');
    expect(reqOf(received[0], 'UploadInvoiceFile').FileName).toBe(`a&b<c>"d'e.txt`);
  });

  it('refuses text XML cannot carry, without echoing it', async () => {
    const filePath = await fileOf('esc2.txt', Buffer.from('x'));
    await expect(client().uploadInvoiceFile({ fileName: 'bad\u0001name', filePath })).rejects.toThrow(
      'FileName contains characters that XML cannot carry',
    );
    expect(received).toHaveLength(0);
  });

  it('passes Success=false through, with the key scrubbed from the message', async () => {
    handler = answers(
      'UploadInvoiceFile',
      `<Success>false</Success><ErrorMessage>Authentication failed for key ${KEY}</ErrorMessage>`,
    );
    const filePath = await fileOf('auth.txt', Buffer.from('abc'));
    const result = await client().uploadInvoiceFile({ fileName: 'f.txt', filePath });
    expect(result).toEqual({
      success: false,
      errorMessage: 'Authentication failed for key [REDACTED]',
      invoiceCount: 0,
    });
  });

  it('turns a SOAP fault into HttpCallError(status 500) without the key anywhere', async () => {
    handler = (req, res) =>
      reply(
        res,
        500,
        '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
          `<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to process request for ${KEY}</faultstring>` +
          `<detail>${req.body.toString('utf8').slice(0, 2000)}</detail></soap:Fault></soap:Body></soap:Envelope>`,
      );
    const filePath = await fileOf('fault.txt', Buffer.from('abcd'));
    const err = await caught(client().uploadInvoiceFile({ fileName: 'f.txt', filePath }));
    expect(err).toMatchObject({
      kind: 'status',
      service: 'IC',
      method: 'POST',
      path: '/portal/webservices/CloudInvoicing.asmx UploadInvoiceFile',
      status: 500,
      responseBody: 'Server was unable to process request for [REDACTED]',
    });
    expect(err.message).toContain('SOAP fault');
    expectNoKey(err);
  });

  it('reports a non-fault error status with Retry-After', async () => {
    handler = (_req, res) => reply(res, 503, `<html>busy ${KEY}</html>`, { 'Retry-After': '30' });
    const filePath = await fileOf('busy.txt', Buffer.from('abcd'));
    const err = await caught(client().uploadInvoiceFile({ fileName: 'f.txt', filePath }));
    expect(err).toMatchObject({ kind: 'status', status: 503, retryAfterMs: 30_000 });
    expectNoKey(err);
  });

  it.each([
    ['not XML', 'hello'],
    ['another method result', soapResponse('ViewInvoiceByInvoiceNumber', '<Success>true</Success>')],
    ['a result without Success', soapResponse('UploadInvoiceFile', `<ErrorMessage>${KEY}</ErrorMessage>`)],
    [
      'a fault with status 200',
      `<Envelope><Body><Fault><faultstring>${KEY}</faultstring></Fault></Body></Envelope>`,
    ],
  ])('rejects a 2xx answer with %s as invalid-response', async (_label, body) => {
    handler = (_req, res) => reply(res, 200, body);
    const filePath = await fileOf('inv.txt', Buffer.from('abcd'));
    const err = await caught(client().uploadInvoiceFile({ fileName: 'f.txt', filePath }));
    expect(err.kind).toBe('invalid-response');
    expectNoKey(err);
  });

  it('times out as kind "timeout"', async () => {
    handler = () => undefined; // never answers
    const filePath = await fileOf('slow.txt', Buffer.from('abcd'));
    const err = await caught(client(300).uploadInvoiceFile({ fileName: 'f.txt', filePath }));
    expect(err.kind).toBe('timeout');
    expectNoKey(err);
  });

  it('stops when the signal aborts', async () => {
    handler = () => undefined;
    const filePath = await fileOf('abort.txt', Buffer.from('abcd'));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await caught(client().uploadInvoiceFile({ fileName: 'f.txt', filePath, signal: ac.signal }));
    expect(err.kind).toBe('timeout');
    expectNoKey(err);
  });

  it('reports a refused connection as kind "network"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const filePath = await fileOf('refused.txt', Buffer.from('abcd'));
    const err = await caught(
      client(undefined, `http://127.0.0.1:${port}`).uploadInvoiceFile({ fileName: 'f.txt', filePath }),
    );
    expect(err.kind).toBe('network');
    expectNoKey(err);
  });

  it('streams a large file without holding it or its base64 in memory', { timeout: 60_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const size = 24 * 1024 * 1024 + 1;
    const filePath = await fileOf('big.txt', randomBytes(size));
    countOnly = true;
    handler = uploadOk;

    gc();
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    let peak = 0;
    const timer = setInterval(() => {
      gc();
      peak = Math.max(peak, used() - before);
    }, 20);
    try {
      await client().uploadInvoiceFile({ fileName: 'big.txt', filePath });
    } finally {
      clearInterval(timer);
    }
    const prefixAndSuffix = Number(received[0].headers['content-length']) - 4 * Math.ceil(size / 3);
    expect(prefixAndSuffix).toBeGreaterThan(0);
    expect(prefixAndSuffix).toBeLessThan(1000);
    expect(countedBytes).toBe(Number(received[0].headers['content-length']));
    expect(bodyTail.endsWith('=</FileContent></Req></UploadInvoiceFile></soap:Body></soap:Envelope>')).toBe(
      true,
    );
    // The file is 24 MiB and its base64 32 MiB: holding either would blow well past this.
    expect(peak).toBeLessThan(16 * 1024 * 1024);
  });

  it('keeps the key out of the client object itself', () => {
    const c = client();
    expect(JSON.stringify(c)).not.toContain(KEY);
    expect(Object.values(c).map(String).join()).not.toContain(KEY);
  });
});

describe('InvoiceCloudClient.viewInvoiceByInvoiceNumber', () => {
  it('sends the request and keeps values as strings', async () => {
    handler = answers(
      'ViewInvoiceByInvoiceNumber',
      '<Success>true</Success><BalanceDue>1.10</BalanceDue><PastDue>00050.00</PastDue><ErrorMessage/>',
    );
    const result = await client().viewInvoiceByInvoiceNumber('0406<20220901>&');
    expect(result).toEqual({ success: true, balanceDue: '1.10', pastDue: '00050.00', errorMessage: '' });
    const r = received[0];
    expect(r.headers['soapaction']).toBe(
      '"https://www.invoicecloud.com/portal/webservices/CloudInvoicing/ViewInvoiceByInvoiceNumber"',
    );
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expect(r.body.toString('utf8')).toContain('<InvoiceNumber>0406&lt;20220901&gt;&amp;</InvoiceNumber>');
    expect(reqOf(r, 'ViewInvoiceByInvoiceNumber')).toEqual({
      BillerGUID: BILLER,
      WebServiceKey: KEY,
      InvoiceNumber: '0406<20220901>&',
    });
  });

  it('passes Success=false through', async () => {
    handler = answers(
      'ViewInvoiceByInvoiceNumber',
      '<Success>false</Success><ErrorMessage>Invoice not found</ErrorMessage>',
    );
    expect(await client().viewInvoiceByInvoiceNumber('nope')).toEqual({
      success: false,
      balanceDue: '',
      pastDue: '',
      errorMessage: 'Invoice not found',
    });
  });

  it('turns a SOAP fault into HttpCallError without the key', async () => {
    handler = (req, res) =>
      reply(
        res,
        500,
        `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
          `<faultcode>soap:Client</faultcode><faultstring>bad request</faultstring>` +
          `<detail><echo>${req.body.toString('utf8').replace(/</g, '&lt;')}</echo></detail>` +
          `</soap:Fault></soap:Body></soap:Envelope>`,
      );
    const err = await caught(client().viewInvoiceByInvoiceNumber('0406'));
    expect(err).toMatchObject({ kind: 'status', status: 500, responseBody: 'bad request' });
    expectNoKey(err);
  });
});
