/**
 * Invoice Cloud simulator: the `CloudInvoicing.asmx` SOAP 1.1 web service as assumed
 * by contracts D, serving `UploadInvoiceFile` and `ViewInvoiceByInvoiceNumber`.
 *
 * It validates uploaded invoice files strictly (contracts E, see `bif-parser.ts`),
 * loads them all-or-nothing, treats a repeated upload of the same file name and
 * content as a no-op success, and exposes `/_sim/...` control routes (no auth, never
 * faulted) to inspect uploads and invoices and to switch failure modes.
 *
 * Like an ASP.NET .asmx service, business failures (bad credentials, a refused file)
 * answer HTTP 200 with `Success=false`; only protocol errors answer a 500 SOAP Fault.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import { FaultController, installFaults, registerControlRoutes, registerFaultRoutes } from '../faults';
import { formatBifProblems, parseInvoiceFile, type BifDateFormat, type BifRow } from './bif-parser';

// ---------------------------------------------------------------------------
// Public types

export interface IcSimulatorOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  billerGuid: string;
  webServiceKey: string;
  /** Date format the biller's file must use. Default YYYY-MM-DD. */
  dateFormat?: BifDateFormat;
  /** Fastify request logging; off by default. */
  logger?: boolean;
}

export interface IcUpload {
  fileName: string;
  sha256: string;
  bytes: number;
  invoiceCount: number;
  success: boolean;
  errorMessage?: string;
  /** Same file name and content as an earlier successful upload: answered Success, nothing loaded. */
  duplicate: boolean;
  at: string;
}

export interface IcInvoice {
  invoiceNumber: string;
  balanceDue: string;
  pastDue: string;
  accountNumber: string;
  customerName: string;
  /** FileName of the upload that last loaded this invoice. */
  loadedFrom: string;
}

export interface IcSimulator {
  url: string;
  faults: FaultController;
  close(): Promise<void>;
  uploads(): IcUpload[];
  invoices(): Map<string, IcInvoice>;
  /** Force every upload to answer Success=false with this message (null = back to normal). */
  rejectUploads(message: string | null): void;
  /** IC-level failure modes (Success=false answers, a wrong InvoiceCount, slow loading). */
  icFaults: IcFaultController;
  /** Back to the state right after start: no uploads, invoices, rejection or faults. */
  reset(): void;
}

/**
 * Failure modes that live inside IC's answers (HTTP 200), unlike the transport faults of
 * `../faults.ts`:
 * - `auth`: the next `count` calls (all while `count` is null) answer Success=false with
 *   IC's authentication message, as if the WebServiceKey had been rotated;
 * - `busy`: the same with a transient "server busy, try again" message;
 * - `invoiceCountDelta`: UploadInvoiceFile loads the file but reports InvoiceCount + delta;
 * - `loadDelayMs`: an uploaded invoice's new balance shows in ViewInvoiceByInvoiceNumber
 *   only after this delay (IC loads files asynchronously); `null` = never (a stale IC).
 */
export interface IcFaultConfig {
  refuse: { kind: 'auth' | 'busy'; count: number | null; methods?: IcMethod[] } | null;
  invoiceCountDelta: number;
  loadDelayMs: number | null;
}

export const DEFAULT_IC_FAULTS: Readonly<IcFaultConfig> = Object.freeze({
  refuse: null,
  invoiceCountDelta: 0,
  loadDelayMs: 0,
});

export const IC_BUSY_MESSAGE = 'Server is busy processing other requests; please try again later.';

const icFaultPatchSchema = z
  .object({
    refuse: z
      .object({
        kind: z.enum(['auth', 'busy']),
        count: z.number().int().min(1).nullable(),
        methods: z.array(z.enum(['UploadInvoiceFile', 'ViewInvoiceByInvoiceNumber'])).optional(),
      })
      .strict()
      .nullable(),
    invoiceCountDelta: z.number().int(),
    loadDelayMs: z.number().int().min(0).nullable(),
  })
  .partial()
  .strict();

export class IcFaultController {
  private config: IcFaultConfig = { ...DEFAULT_IC_FAULTS };

  get(): IcFaultConfig {
    return { ...this.config, refuse: this.config.refuse && { ...this.config.refuse } };
  }

  set(patch: Partial<IcFaultConfig>): void {
    this.config = { ...this.config, ...patch };
  }

  clear(): void {
    this.config = { ...DEFAULT_IC_FAULTS };
  }

  /** The Success=false message to answer `method` with now, if any (counts the call). */
  refusal(method: IcMethod): string | null {
    const refuse = this.config.refuse;
    if (!refuse || (refuse.methods && !refuse.methods.includes(method))) return null;
    if (refuse.count !== null) {
      const left = refuse.count - 1;
      this.config = { ...this.config, refuse: left > 0 ? { ...refuse, count: left } : null };
    }
    return refuse.kind === 'auth' ? AUTH_FAILED : IC_BUSY_MESSAGE;
  }
}

// ---------------------------------------------------------------------------
// SOAP

export const IC_NAMESPACE = 'https://www.invoicecloud.com/portal/webservices/CloudInvoicing/';
export const IC_ENDPOINT = '/portal/webservices/CloudInvoicing.asmx';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const SIM_PREFIX = '/_sim';
/** A 100,000-invoice file is ~20 MB, ~27 MB once base64-encoded inside the envelope. */
const BODY_LIMIT = 64 * 1024 * 1024;
const AUTH_FAILED = 'Authentication failed: invalid BillerGUID or WebServiceKey';
const METHODS = ['UploadInvoiceFile', 'ViewInvoiceByInvoiceNumber'] as const;
type IcMethod = (typeof METHODS)[number];

type Fields = Record<string, string | number | boolean>;

const XML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Named entities only: every XML parser decodes these five, not all decode numeric references by default. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]);
}

function envelope(inner: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENV}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
    `xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>${inner}</soap:Body></soap:Envelope>`
  );
}

function resultEnvelope(method: IcMethod, fields: Fields): string {
  const body = Object.entries(fields)
    .map(([name, value]) => {
      const text = xmlEscape(String(value));
      return text === '' ? `<${name}/>` : `<${name}>${text}</${name}>`;
    })
    .join('');
  return envelope(
    `<${method}Response xmlns="${IC_NAMESPACE}"><${method}Result>${body}</${method}Result></${method}Response>`,
  );
}

export function soapFault(faultCode: 'soap:Client' | 'soap:Server', faultString: string): string {
  return envelope(
    `<soap:Fault><faultcode>${faultCode}</faultcode><faultstring>${xmlEscape(faultString)}</faultstring>` +
      '<detail/></soap:Fault>',
  );
}

function sendXml(reply: FastifyReply, status: number, xml: string): FastifyReply {
  return reply.code(status).type('text/xml; charset=utf-8').send(xml);
}

class SoapClientError extends Error {}

type XmlNode = Record<string, unknown>;

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const xmlParser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  // Keep every value a string: invoice numbers like 040620220901 must keep their leading zero.
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
});

/** `"https://…/CloudInvoicing/UploadInvoiceFile"` → `UploadInvoiceFile`, or throws a client fault. */
function methodFromSoapAction(header: string | string[] | undefined): IcMethod {
  if (typeof header !== 'string' || header.trim() === '') {
    throw new SoapClientError('Missing SOAPAction HTTP header.');
  }
  const action = header.trim().replace(/^"(.*)"$/, '$1');
  const method = action.startsWith(IC_NAMESPACE) ? action.slice(IC_NAMESPACE.length) : '';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new SoapClientError(`Server did not recognize the value of HTTP Header SOAPAction: ${action}.`);
  }
  return method as IcMethod;
}

/**
 * fast-xml-parser needs seconds for a 27 MB text node, while base64 holds no markup at all:
 * the FileContent value is lifted out with a linear regex and only the small rest is parsed.
 */
const FILE_CONTENT = /(<(?:[\w.-]+:)?FileContent(?:\s[^>]*)?>)([^<]*)(<\/(?:[\w.-]+:)?FileContent\s*>)/;

function liftFileContent(xml: string): { rest: string; fileContent: string | null } {
  const match = FILE_CONTENT.exec(xml);
  if (!match) return { rest: xml, fileContent: null };
  const rest = xml.slice(0, match.index) + match[1] + match[3] + xml.slice(match.index + match[0].length);
  return { rest, fileContent: match[2] };
}

/** Returns the `<Req>` element's children of a well-formed envelope whose body element matches the action. */
function requestFields(rawXml: string, method: IcMethod): XmlNode {
  if (rawXml.trim() === '') throw new SoapClientError('The request body is empty; expected a SOAP envelope.');
  const { rest: xml, fileContent } = liftFileContent(rawXml);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new SoapClientError(
      `The request is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}).`,
    );
  }
  const doc: unknown = xmlParser.parse(xml);
  const body = isNode(doc) && isNode(doc.Envelope) ? doc.Envelope.Body : undefined;
  if (!isNode(body)) throw new SoapClientError('The request is not a SOAP 1.1 envelope with a Body.');
  const call = body[method];
  if (!isNode(call)) {
    const found = Object.keys(body).join(', ') || 'nothing';
    throw new SoapClientError(`SOAPAction names ${method} but the Body contains ${found}.`);
  }
  if (!isNode(call.Req)) throw new SoapClientError(`${method} must wrap its parameters in <Req>.`);
  return fileContent !== null && 'FileContent' in call.Req
    ? { ...call.Req, FileContent: fileContent }
    : call.Req;
}

function text(node: XmlNode, name: string): string {
  const value = node[name];
  return typeof value === 'string' ? value : '';
}

// ---------------------------------------------------------------------------
// State

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time comparison of digests, so neither the key's content nor its length leaks through timing. */
function secretMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Copies a string into fresh memory. V8 may keep a field split out of the decoded file as a
 * slice of the whole file text; storing slices would keep every uploaded file alive.
 */
function detached(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface UploadResult {
  success: boolean;
  errorMessage: string;
  invoiceCount: number;
}

class IcState {
  private readonly uploadLog: IcUpload[] = [];
  /** FileName → sha256 and row count of the successful upload that loaded it. */
  private readonly loadedFiles = new Map<string, { sha256: string; invoiceCount: number }>();
  private readonly shown = new Map<string, IcInvoice>();
  /** Loaded but not yet shown (IC's asynchronous load, `loadDelayMs`): the newest per invoice. */
  private readonly pending = new Map<string, { invoice: IcInvoice; visibleAt: number }>();
  forcedRejection: string | null = null;

  constructor(
    private readonly dateFormat: BifDateFormat,
    private readonly faults: IcFaultController,
  ) {}

  /** What IC shows now: pending loads whose time has come are applied first. */
  get invoices(): Map<string, IcInvoice> {
    const now = Date.now();
    for (const [n, p] of this.pending) {
      if (p.visibleAt <= now) {
        this.shown.set(n, p.invoice);
        this.pending.delete(n);
      }
    }
    return this.shown;
  }

  uploads(): IcUpload[] {
    return this.uploadLog.map((u) => ({ ...u }));
  }

  reset(): void {
    this.uploadLog.length = 0;
    this.loadedFiles.clear();
    this.shown.clear();
    this.pending.clear();
    this.forcedRejection = null;
  }

  upload(fileName: string, base64: string): UploadResult {
    const compact = base64.replace(/\s+/g, '');
    const bytes = BASE64.test(compact) && compact.length % 4 === 0 ? Buffer.from(compact, 'base64') : null;
    const record = (result: UploadResult, sha = '', duplicate = false): UploadResult => {
      this.uploadLog.push({
        fileName,
        sha256: sha,
        bytes: bytes?.length ?? 0,
        invoiceCount: result.invoiceCount,
        success: result.success,
        ...(result.errorMessage ? { errorMessage: result.errorMessage } : {}),
        duplicate,
        at: new Date().toISOString(),
      });
      return result;
    };
    if (this.forcedRejection !== null) return record(failure(this.forcedRejection));
    const nameProblem = fileNameProblem(fileName);
    if (nameProblem) return record(failure(nameProblem));
    if (!bytes) return record(failure('FileContent is not valid base64.'));
    const sha = sha256Hex(bytes);
    const previous = this.loadedFiles.get(fileName);
    if (previous && previous.sha256 === sha) return record(success(previous.invoiceCount), sha, true);
    if (previous)
      return record(failure(`FileName ${fileName} was already loaded with different content.`), sha);
    const parsed = parseInvoiceFile(bytes, { dateFormat: this.dateFormat });
    if (!parsed.ok)
      return record(failure(`Invoice file refused: ${formatBifProblems(parsed.problems)}`), sha);
    this.load(fileName, parsed.rows);
    this.loadedFiles.set(fileName, { sha256: sha, invoiceCount: parsed.rows.length });
    return record(success(parsed.rows.length + this.faults.get().invoiceCountDelta), sha);
  }

  view(invoiceNumber: string): Fields {
    const invoice = this.invoices.get(invoiceNumber);
    if (!invoice) {
      return {
        Success: false,
        BalanceDue: '',
        PastDue: '',
        ErrorMessage: `Invoice ${invoiceNumber} not found.`,
      };
    }
    return { Success: true, BalanceDue: invoice.balanceDue, PastDue: invoice.pastDue, ErrorMessage: '' };
  }

  /** A later file may carry an invoice again (e.g. a changed balance): the newest load wins. */
  private load(fileName: string, rows: readonly BifRow[]): void {
    const delay = this.faults.get().loadDelayMs;
    const visibleAt = delay === null ? Infinity : Date.now() + delay;
    for (const row of rows) {
      const invoice: IcInvoice = {
        invoiceNumber: detached(row.invoice_number),
        balanceDue: detached(row.amount_due),
        pastDue: row.past_due_amount === '' ? '0.00' : detached(row.past_due_amount),
        accountNumber: detached(row.customer_id),
        customerName: detached(row.customer_name),
        loadedFrom: fileName,
      };
      if (visibleAt <= Date.now()) {
        this.pending.delete(invoice.invoiceNumber);
        this.shown.set(invoice.invoiceNumber, invoice);
      } else this.pending.set(invoice.invoiceNumber, { invoice, visibleAt });
    }
  }
}

function fileNameProblem(fileName: string): string | null {
  if (fileName === '') return 'FileName is required.';
  if (/[\\/]/.test(fileName)) return `FileName ${fileName} must not contain a path.`;
  if (!fileName.endsWith('.txt')) return `FileName ${fileName} must end in .txt.`;
  return null;
}

function success(invoiceCount: number): UploadResult {
  return { success: true, errorMessage: '', invoiceCount };
}

function failure(errorMessage: string): UploadResult {
  return { success: false, errorMessage, invoiceCount: 0 };
}

// ---------------------------------------------------------------------------
// HTTP

interface Credentials {
  billerGuid: string;
  webServiceKey: string;
}

function authenticated(req: XmlNode, creds: Credentials): boolean {
  // GUIDs compare case-insensitively; both checks always run so timing does not tell which one failed.
  const guidOk = secretMatches(text(req, 'BillerGUID').toLowerCase(), creds.billerGuid.toLowerCase());
  const keyOk = secretMatches(text(req, 'WebServiceKey'), creds.webServiceKey);
  return guidOk && keyOk;
}

function callMethod(
  method: IcMethod,
  req: XmlNode,
  state: IcState,
  creds: Credentials,
  icFaults: IcFaultController,
): Fields {
  const refusal = icFaults.refusal(method);
  if (refusal !== null)
    return method === 'UploadInvoiceFile'
      ? { Success: false, ErrorMessage: refusal, InvoiceCount: 0 }
      : { Success: false, BalanceDue: '', PastDue: '', ErrorMessage: refusal };
  if (method === 'UploadInvoiceFile') {
    if (!authenticated(req, creds)) return { Success: false, ErrorMessage: AUTH_FAILED, InvoiceCount: 0 };
    const result = state.upload(text(req, 'FileName'), text(req, 'FileContent'));
    return { Success: result.success, ErrorMessage: result.errorMessage, InvoiceCount: result.invoiceCount };
  }
  if (!authenticated(req, creds))
    return { Success: false, BalanceDue: '', PastDue: '', ErrorMessage: AUTH_FAILED };
  return state.view(text(req, 'InvoiceNumber'));
}

function registerSoapEndpoint(
  app: FastifyInstance,
  state: IcState,
  creds: Credentials,
  icFaults: IcFaultController,
): void {
  // .asmx services take SOAP 1.1 as text/xml only (anything else is a 415 fault); the raw
  // body is kept as a string for the XML parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['text/xml', 'application/xml'],
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );
  app.post(IC_ENDPOINT, async (request, reply) => {
    try {
      const method = methodFromSoapAction(request.headers.soapaction);
      const req = requestFields(typeof request.body === 'string' ? request.body : '', method);
      return sendXml(reply, 200, resultEnvelope(method, callMethod(method, req, state, creds, icFaults)));
    } catch (err) {
      if (err instanceof SoapClientError) return sendXml(reply, 500, soapFault('soap:Client', err.message));
      throw err;
    }
  });
}

function statusOf(err: unknown): number {
  const code = isNode(err) ? err.statusCode : undefined;
  return typeof code === 'number' ? code : 500;
}

function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendXml(
      reply,
      404,
      soapFault('soap:Client', `No web service at ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );
  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status === 415) {
      return sendXml(reply, 415, soapFault('soap:Client', 'Content-Type must be text/xml (SOAP 1.1).'));
    }
    if (status < 500) {
      const message = err instanceof Error ? err.message : 'Bad request.';
      return sendXml(reply, status, soapFault('soap:Client', message));
    }
    request.log.error({ err }, 'IC simulator error');
    return sendXml(reply, 500, soapFault('soap:Server', 'Server was unable to process request.'));
  });
}

function registerSimRoutes(
  app: FastifyInstance,
  sim: IcSimulator,
  state: IcState,
  faults: FaultController,
): void {
  app.get(`${SIM_PREFIX}/health`, async () => ({ status: 'ok' }));
  app.get(`${SIM_PREFIX}/uploads`, async () => sim.uploads());
  app.get<{ Params: { n: string } }>(`${SIM_PREFIX}/invoices/:n`, async (request, reply) => {
    const invoice = state.invoices.get(request.params.n);
    return invoice ?? reply.code(404).send({ detail: `Invoice ${request.params.n} not loaded.` });
  });
  registerFaultRoutes(app, faults, SIM_PREFIX);
  app.get(`${SIM_PREFIX}/ic-faults`, async () => sim.icFaults.get());
  app.put(`${SIM_PREFIX}/ic-faults`, async (request, reply) => {
    const patch = icFaultPatchSchema.safeParse(request.body ?? {});
    if (!patch.success) return reply.code(400).send({ detail: z.prettifyError(patch.error) });
    sim.icFaults.set(patch.data);
    return sim.icFaults.get();
  });
  app.delete(`${SIM_PREFIX}/ic-faults`, async () => {
    sim.icFaults.clear();
    return sim.icFaults.get();
  });
  app.post<{ Body: { message?: unknown } }>(`${SIM_PREFIX}/reject-uploads`, async (request, reply) => {
    const message = request.body?.message;
    if (message !== null && typeof message !== 'string') {
      return reply
        .code(400)
        .send({ detail: 'Send {"message": "…"} to refuse uploads, {"message": null} to stop.' });
    }
    sim.rejectUploads(message);
    return { rejecting: message };
  });
  app.post(`${SIM_PREFIX}/reset`, async () => {
    sim.reset();
    return { status: 'reset' };
  });
}

function listenUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string')
    throw new Error('IC simulator is not listening on TCP');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `http://${hostPart}:${address.port}`;
}

export async function startIcSimulator(opts: IcSimulatorOptions): Promise<IcSimulator> {
  if (!opts.billerGuid || !opts.webServiceKey) {
    throw new TypeError('startIcSimulator: billerGuid and webServiceKey are required');
  }
  const host = opts.host ?? '127.0.0.1';
  const app = Fastify({
    // Request logs carry no bodies, so the WebServiceKey inside the envelope is never logged.
    logger: opts.logger ? { level: 'info' } : false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
  });
  const faults = new FaultController();
  const icFaults = new IcFaultController();
  const state = new IcState(opts.dateFormat ?? 'YYYY-MM-DD', icFaults);
  const creds: Credentials = { billerGuid: opts.billerGuid, webServiceKey: opts.webServiceKey };

  installFaults(app, faults, {
    exemptPrefix: SIM_PREFIX,
    renderError: (status, message) => ({
      contentType: 'text/xml; charset=utf-8',
      body: soapFault(status >= 500 ? 'soap:Server' : 'soap:Client', message),
    }),
  });
  installErrorHandling(app);
  registerSoapEndpoint(app, state, creds, icFaults);

  const sim: IcSimulator = {
    url: '',
    faults,
    icFaults,
    close: () => app.close(),
    uploads: () => state.uploads(),
    invoices: () => new Map([...state.invoices].map(([k, v]) => [k, { ...v }])),
    rejectUploads: (message) => {
      state.forcedRejection = message;
    },
    reset: () => {
      state.reset();
      faults.clear();
      icFaults.clear();
    },
  };
  registerControlRoutes(app, (scope) => registerSimRoutes(scope, sim, state, faults));

  await app.listen({ port: opts.port ?? 0, host });
  sim.url = listenUrl(app, host);
  return sim;
}
