/**
 * SOAP 1.1 client for Invoice Cloud's CloudInvoicing web service (contracts D, an
 * assumed wire contract: this module is the one place to change when IC's real WSDL
 * says otherwise).
 *
 * Secrets: the WebServiceKey travels only inside the request body. It is kept in a
 * private field (not enumerable, not serialisable), scrubbed from anything IC echoes
 * back (SOAP faults, error messages), and axios errors, which carry the request config
 * and therefore the body, are never rethrown: every failure becomes an `HttpCallError`.
 *
 * Uploads are streamed: envelope prefix, then the file base64-encoded in slices whose
 * length is a multiple of 3 bytes (so each slice encodes without padding and the pieces
 * concatenate to the base64 of the whole file), then the suffix, with a Content-Length
 * computed up front. Neither the file nor its base64 is ever held in memory whole.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import axios, { isAxiosError, type AxiosInstance } from 'axios';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import {
  HttpCallError,
  failedCallOutcome,
  parseRetryAfter,
  redactSecrets,
  toHttpCallError,
  type CallObserver,
} from './http';

export const IC_SOAP_PATH = '/portal/webservices/CloudInvoicing.asmx';
export const IC_NAMESPACE = 'https://www.invoicecloud.com/portal/webservices/CloudInvoicing/';
/**
 * Bytes of file read and encoded per slice; a multiple of 3 (see the top of this file).
 * Kept under 64 KB so each base64 slice stays out of V8's large-object space: with 192 KB
 * slices a 100,000-invoice upload left ~30 MB of dead slices in the worker until a full GC.
 */
export const UPLOAD_CHUNK_BYTES = 3 * 16 * 1024;

const DEFAULT_UPLOAD_TIMEOUT_MS = 120_000;
const DEFAULT_LOOKUP_TIMEOUT_MS = 30_000;
/** SOAP answers are small; a bigger one is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const MAX_EXCERPT = 500;

export type IcMethod = 'UploadInvoiceFile' | 'ViewInvoiceByInvoiceNumber';

export interface IcClientOptions {
  baseUrl: string;
  billerGuid: string;
  webServiceKey: string;
  /**
   * Limit until IC's answer starts, upload included (axios measures it from the start of
   * the request). Default 120 s for uploads and 30 s for invoice look-ups.
   */
  timeoutMs?: number;
  /** Told how each call ended (metrics: IC's error rate); Success=false is `refused`. */
  onCall?: CallObserver;
}

export interface UploadResult {
  success: boolean;
  errorMessage: string;
  invoiceCount: number;
}

export interface ViewInvoiceResult {
  success: boolean;
  balanceDue: string;
  pastDue: string;
  errorMessage: string;
}

// XML 1.0 cannot carry these at all, escaped or not: C0 controls other than tab, CR and
// LF, U+FFFE/U+FFFF, and unpaired surrogates.
// eslint-disable-next-line no-control-regex
const XML_INVALID_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes a text value for an XML element; `name` (never the value) names it in errors. */
export function xmlEscape(value: string, name: string): string {
  if (XML_INVALID_CHAR.test(value) || LONE_SURROGATE.test(value))
    throw new TypeError(`${name} contains characters that XML cannot carry`);
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

const ENVELOPE_OPEN =
  '<?xml version="1.0" encoding="utf-8"?>' +
  '<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
  ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"' +
  ' xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>';
const ENVELOPE_CLOSE = '</soap:Body></soap:Envelope>';

function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/** SOAP `true`/`false` (xsd:boolean also allows `1`/`0`). */
const SoapBoolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0']))
  .transform((v) => v === 'true' || v === '1');
/** An element that may be absent or empty: both mean ''. */
const SoapText = z
  .string()
  .optional()
  .transform((v) => (v ?? '').trim());

const UploadResultSchema = z.object({
  Success: SoapBoolean,
  ErrorMessage: SoapText,
  InvoiceCount: z
    .string()
    .trim()
    .regex(/^\d*$/)
    .optional()
    .transform((v) => (v ? Number(v) : 0)),
});

const ViewInvoiceResultSchema = z.object({
  Success: SoapBoolean,
  BalanceDue: SoapText,
  PastDue: SoapText,
  ErrorMessage: SoapText,
});

const xmlParser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  // Keep every value a string: "00123" must not become 123, "1.10" not 1.1.
  parseTagValue: false,
  trimValues: true,
});

function child(node: unknown, key: string): unknown {
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
}

function parseXml(text: string): unknown {
  try {
    return xmlParser.parse(text);
  } catch {
    return undefined;
  }
}

function soapBody(text: unknown): unknown {
  return typeof text === 'string' ? child(child(parseXml(text), 'Envelope'), 'Body') : undefined;
}

/** The fault text of a SOAP 1.1 fault (or 1.2 `Reason/Text`), or undefined when `text` is no fault. */
function faultString(text: unknown): string | undefined {
  const fault = child(soapBody(text), 'Fault');
  if (fault === undefined) return undefined;
  const reason = child(fault, 'faultstring') ?? child(child(fault, 'Reason'), 'Text');
  return typeof reason === 'string' ? reason : 'SOAP fault without a faultstring';
}

export class InvoiceCloudClient {
  readonly #endpoint: string;
  readonly #billerGuid: string;
  readonly #webServiceKey: string;
  readonly #timeoutMs: number | undefined;
  readonly #http: AxiosInstance;
  readonly #onCall: CallObserver | undefined;

  constructor(opts: IcClientOptions) {
    const base = opts.baseUrl.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/i.test(base)) throw new TypeError('IC baseUrl must be an http(s) URL');
    if (!opts.billerGuid) throw new TypeError('IC billerGuid is required');
    if (!opts.webServiceKey) throw new TypeError('IC webServiceKey is required');
    this.#endpoint = `${base}${IC_SOAP_PATH}`;
    this.#billerGuid = opts.billerGuid;
    this.#webServiceKey = opts.webServiceKey;
    this.#timeoutMs = opts.timeoutMs;
    this.#http = axios.create();
    this.#onCall = opts.onCall;
  }

  /** Runs one call and tells `onCall` how it ended. */
  async #observed<T extends { success: boolean }>(method: IcMethod, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await run();
      this.#onCall?.('ic', method, result.success ? 'ok' : 'refused', seconds());
      return result;
    } catch (err) {
      this.#onCall?.('ic', method, failedCallOutcome(err), seconds());
      throw err;
    }
  }

  /**
   * `UploadInvoiceFile`. Success=false (bad credentials, rejected file) is returned, not
   * thrown: the caller decides. Throws `HttpCallError` for transport failures, SOAP
   * faults and answers that are not the expected result.
   */
  async uploadInvoiceFile(args: {
    fileName: string;
    filePath: string;
    signal?: AbortSignal;
  }): Promise<UploadResult> {
    return this.#observed('UploadInvoiceFile', () => this.#upload(args));
  }

  async #upload(args: { fileName: string; filePath: string; signal?: AbortSignal }): Promise<UploadResult> {
    const method = 'UploadInvoiceFile';
    const prefix = Buffer.from(
      this.#requestOpen(method, [['FileName', args.fileName]]) + '<FileContent>',
      'utf8',
    );
    const suffix = Buffer.from(`</FileContent></Req></${method}>${ENVELOPE_CLOSE}`, 'utf8');
    let size: number;
    try {
      size = (await stat(args.filePath)).size;
    } catch (err) {
      // A local problem, not IC's: say so plainly (the path is ours, not a secret).
      throw new Error(`cannot read invoice file ${args.filePath}: ${(err as Error).message}`);
    }
    const body = Readable.from(encodeBody(prefix, args.filePath, size, suffix));
    try {
      const text = await this.#post(method, body, prefix.length + base64Length(size) + suffix.length, {
        timeoutMs: this.#timeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS,
        signal: args.signal,
      });
      const r = this.#result(method, text, UploadResultSchema);
      return { success: r.Success, errorMessage: this.#scrub(r.ErrorMessage), invoiceCount: r.InvoiceCount };
    } finally {
      // On failure axios may leave the body half read: release the file handle.
      body.destroy();
    }
  }

  /** `ViewInvoiceByInvoiceNumber`; same error rules as `uploadInvoiceFile`. */
  async viewInvoiceByInvoiceNumber(invoiceNumber: string, signal?: AbortSignal): Promise<ViewInvoiceResult> {
    return this.#observed('ViewInvoiceByInvoiceNumber', () => this.#view(invoiceNumber, signal));
  }

  async #view(invoiceNumber: string, signal?: AbortSignal): Promise<ViewInvoiceResult> {
    const method = 'ViewInvoiceByInvoiceNumber';
    const envelope = Buffer.from(
      this.#requestOpen(method, [['InvoiceNumber', invoiceNumber]]) + `</Req></${method}>${ENVELOPE_CLOSE}`,
      'utf8',
    );
    const text = await this.#post(method, envelope, envelope.length, {
      timeoutMs: this.#timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS,
      signal,
    });
    const r = this.#result(method, text, ViewInvoiceResultSchema);
    return {
      success: r.Success,
      balanceDue: r.BalanceDue,
      pastDue: r.PastDue,
      errorMessage: this.#scrub(r.ErrorMessage),
    };
  }

  /** Envelope up to and including the fields of `<Req>` (left open). */
  #requestOpen(method: IcMethod, fields: [string, string][]): string {
    const all: [string, string][] = [
      ['BillerGUID', this.#billerGuid],
      ['WebServiceKey', this.#webServiceKey],
      ...fields,
    ];
    const req = all.map(([name, value]) => `<${name}>${xmlEscape(value, name)}</${name}>`).join('');
    return `${ENVELOPE_OPEN}<${method} xmlns="${IC_NAMESPACE}"><Req>${req}`;
  }

  async #post(
    method: IcMethod,
    data: Buffer | Readable,
    contentLength: number,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<string> {
    try {
      const res = await this.#http.post<string>(this.#endpoint, data, {
        headers: {
          'Content-Type': 'text/xml; charset=utf-8',
          SOAPAction: `"${IC_NAMESPACE}${method}"`,
          'Content-Length': String(contentLength),
        },
        timeout: opts.timeoutMs,
        signal: opts.signal,
        responseType: 'text',
        // Keep the raw text: axios would otherwise try JSON on it.
        transformResponse: [(raw: unknown) => raw],
        maxBodyLength: Infinity,
        maxContentLength: MAX_RESPONSE_BYTES,
        // follow-redirects buffers the whole request body to replay it; a SOAP endpoint
        // has no reason to redirect, so use plain http(s) and keep the upload streamed.
        maxRedirects: 0,
      });
      return typeof res.data === 'string' ? res.data : String(res.data ?? '');
    } catch (err) {
      throw this.#failure(method, err);
    }
  }

  #failure(method: IcMethod, err: unknown): HttpCallError {
    const path = `${IC_SOAP_PATH} ${method}`;
    if (isAxiosError(err) && err.response) {
      const fault = faultString(err.response.data);
      if (fault !== undefined) {
        const reason = this.#scrub(fault).slice(0, MAX_EXCERPT);
        const status = err.response.status;
        return new HttpCallError(
          'status',
          'IC',
          'POST',
          path,
          `IC answered ${status} (SOAP fault) to POST ${path}: ${reason}`,
          status,
          reason,
          parseRetryAfter(err.response.headers?.['retry-after']),
        );
      }
    }
    return toHttpCallError(err, 'IC', 'POST', path, [this.#webServiceKey]);
  }

  #result<T extends z.ZodType>(method: IcMethod, text: string, schema: T): z.output<T> {
    const path = `${IC_SOAP_PATH} ${method}`;
    const body = soapBody(text);
    const parsed = schema.safeParse(child(child(body, `${method}Response`), `${method}Result`));
    if (parsed.success) return parsed.data;
    const fault = faultString(text);
    const why =
      fault !== undefined
        ? `a SOAP fault: ${this.#scrub(fault).slice(0, MAX_EXCERPT)}`
        : body === undefined
          ? 'no SOAP envelope'
          : `no valid ${method}Result (${z.prettifyError(parsed.error).replace(/\s+/g, ' ').slice(0, MAX_EXCERPT)})`;
    return this.#invalid(path, `IC answered POST ${path} with ${why}`, text);
  }

  #invalid(path: string, message: string, text: string): never {
    throw new HttpCallError(
      'invalid-response',
      'IC',
      'POST',
      path,
      message,
      undefined,
      this.#scrub(text.slice(0, MAX_EXCERPT)),
    );
  }

  #scrub(text: string): string {
    return redactSecrets(text, [this.#webServiceKey]);
  }
}

/** Envelope prefix, the file in base64 slice by slice, envelope suffix. */
async function* encodeBody(
  prefix: Buffer,
  filePath: string,
  expectedBytes: number,
  suffix: Buffer,
): AsyncGenerator<Buffer> {
  yield prefix;
  let carry: Buffer = Buffer.alloc(0);
  let seen = 0;
  for await (const chunk of createReadStream(filePath, { highWaterMark: UPLOAD_CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    seen += bytes.length;
    if (seen > expectedBytes) throw new Error(`invoice file ${filePath} changed during the upload`);
    // The stream may hand over slices that are not multiples of 3: carry the 1–2 byte rest.
    const buf = carry.length > 0 ? Buffer.concat([carry, bytes]) : bytes;
    const usable = buf.length - (buf.length % 3);
    if (usable > 0) yield Buffer.from(buf.subarray(0, usable).toString('base64'), 'latin1');
    carry = Buffer.from(buf.subarray(usable));
  }
  // Content-Length was computed from the size at the start: a file that changed since
  // would send a body of another length (or other bytes). Abort the request instead.
  if (seen !== expectedBytes) throw new Error(`invoice file ${filePath} changed during the upload`);
  if (carry.length > 0) yield Buffer.from(carry.toString('base64'), 'latin1');
  yield suffix;
}
