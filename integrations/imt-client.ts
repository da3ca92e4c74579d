/**
 * IMT partner API client: the documented calls (design §1) and the assumed ones
 * (contracts C1, C2). A plain class — no Temporal imports — so it can be used from
 * activities, the ingress (RTDR pass-through), scripts and tests alike.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import { HttpCallError, failedCallOutcome, toHttpCallError, type CallObserver } from './http';
import { ImtInvoicePageSchema, type ImtInvoicePage } from './imt-types';
import { ImtPaymentPageSchema, type ImtListedPayment, type ImtPaymentPage } from './imt-payment-types';
import type { PaymentRequest, PostedPayment } from '../domain';

export interface ImtClientOptions {
  baseUrl: string;
  integratorId: string;
  timeoutMs?: number;
  /** Told how each call ended (metrics: IMT's error rate). */
  onCall?: CallObserver;
}

export const ImtPostedPaymentSchema = z
  .object({
    id: z.union([z.number(), z.string()]),
    transaction_id: z.string(),
    amount: z.string(),
  })
  .passthrough();

export const ImtInvoiceDetailSchema = z
  .object({
    invoice_number: z.string(),
    amount_due: z.string(),
    past_due: z.string().nullable(),
    customer: z.string(),
  })
  .passthrough();
export type ImtInvoiceDetail = z.infer<typeof ImtInvoiceDetailSchema>;

export const ImtReversalSchema = z
  .object({
    id: z.union([z.number(), z.string()]),
    transaction_id: z.string(),
    reversal_type: z.enum(['void', 'ach_reject']),
    amount: z.string(),
  })
  .passthrough();
export type ImtReversal = z.infer<typeof ImtReversalSchema>;

/** Contracts C2 body. */
export interface ReversePaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  reversal_type: 'void' | 'ach_reject';
  return_code: string | null;
  amount: string;
  message: string;
  source: 'invoice_cloud';
}

const PATHS = {
  postPayment: '/api/integration/invoice/post-payment',
  reversePayment: '/api/integration/invoice/reverse-payment',
  detail: (n: string) => `/api/integration/invoice/${encodeURIComponent(n)}/detail`,
  pdf: (n: string) => `/api/integration/invoice/${encodeURIComponent(n)}/pdf`,
  list: '/api/integration/invoices',
};

/** A fixed name per IMT call (a metric label), never the URL: paths carry invoice numbers. */
export function imtCallName(path: string): string {
  if (path.startsWith(PATHS.postPayment)) return 'post-payment';
  if (path.startsWith(PATHS.reversePayment)) return 'reverse-payment';
  if (path.startsWith(PATHS.list)) return 'list-invoices';
  if (path.startsWith('/api/integration/payments')) return 'list-payments';
  if (path.endsWith('/detail')) return 'invoice-detail';
  if (path.endsWith('/pdf')) return 'invoice-pdf';
  return 'other';
}

export class ImtClient {
  private readonly http: AxiosInstance;
  private readonly secrets: string[];
  /** When IMT last answered a call of this client 2xx (ms since the epoch; 0 = never). */
  private lastAnsweredOkAt = 0;

  constructor(private readonly opts: ImtClientOptions) {
    this.secrets = [opts.integratorId];
    this.http = axios.create({
      baseURL: opts.baseUrl,
      timeout: opts.timeoutMs ?? 10_000,
      headers: { 'X-Integrator-ID': opts.integratorId, Accept: 'application/json' },
      // Keep-alive: payments arrive in bursts; a fresh TLS handshake per post would dominate latency.
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
      maxRedirects: 0,
    });
  }

  get baseUrl(): string {
    return this.opts.baseUrl;
  }

  /**
   * Whether IMT answered some call of this client 2xx within the last `windowMs`: IMT is
   * up, so a failure now is a one-off rather than an outage (workflows/payment.ts retries
   * such a posting sooner).
   */
  answeredOkWithin(windowMs: number): boolean {
    return Date.now() - this.lastAnsweredOkAt <= windowMs;
  }

  // postPayment and reversePayment stay two thin methods on purpose: each names its contract and its result.
  /** Documented post-payment. 201 = posted now; 200 = repeat of an earlier post (contracts C3). */
  async postPayment(
    body: PaymentRequest,
    signal?: AbortSignal,
  ): Promise<{ status: number; payment: PostedPayment }> {
    const { status, data } = await this.postParsed(PATHS.postPayment, body, ImtPostedPaymentSchema, signal);
    return { status, payment: data };
  }

  /** Assumed reverse-payment (contracts C2). */
  async reversePayment(
    body: ReversePaymentRequest,
    signal?: AbortSignal,
  ): Promise<{ status: number; reversal: ImtReversal }> {
    const { status, data } = await this.postParsed(PATHS.reversePayment, body, ImtReversalSchema, signal);
    return { status, reversal: data };
  }

  async getInvoiceDetail(invoiceNumber: string, signal?: AbortSignal): Promise<ImtInvoiceDetail> {
    const path = PATHS.detail(invoiceNumber);
    const res = await this.call('GET', path, () => this.http.get(path, { signal }));
    return this.parse(ImtInvoiceDetailSchema, res.data, 'GET', path);
  }

  /** Streams the bill PDF; the caller pipes it on and must consume or destroy the stream. */
  async getInvoicePdf(
    invoiceNumber: string,
    signal?: AbortSignal,
  ): Promise<{ stream: Readable; contentType: string; contentLength?: number }> {
    const path = PATHS.pdf(invoiceNumber);
    const res = await this.call('GET', path, () => this.http.get(path, { signal, responseType: 'stream' }));
    const length = Number(res.headers['content-length']);
    return {
      stream: res.data as Readable,
      contentType: String(res.headers['content-type'] ?? 'application/pdf'),
      contentLength: Number.isFinite(length) ? length : undefined,
    };
  }

  /** Assumed listing of a billing cycle (contracts C1). Pages are 1-based. */
  async listInvoices(
    args: { invoiceMonth: string; page: number; pageSize: number },
    signal?: AbortSignal,
  ): Promise<ImtInvoicePage> {
    const path = `${PATHS.list}?invoice_month=${args.invoiceMonth}&page=${args.page}&page_size=${args.pageSize}`;
    const res = await this.call('GET', path, () =>
      this.http.get(PATHS.list, {
        signal,
        params: { invoice_month: args.invoiceMonth, page: args.page, page_size: args.pageSize },
      }),
    );
    return this.parse(ImtInvoicePageSchema, res.data, 'GET', path);
  }

  /** POSTs `body` and checks IMT's answer against `schema`. */
  private async postParsed<S extends z.ZodType>(
    path: string,
    body: unknown,
    schema: S,
    signal?: AbortSignal,
  ): Promise<{ status: number; data: z.infer<S> }> {
    const res = await this.call('POST', path, () => this.http.post(path, body, { signal }));
    return { status: res.status, data: this.parse(schema, res.data, 'POST', path) };
  }

  private async call<T>(method: string, path: string, send: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const observe = (outcome: Parameters<CallObserver>[2]) =>
      this.opts.onCall?.('imt', imtCallName(path), outcome, (performance.now() - started) / 1000);
    try {
      const res = await send();
      this.lastAnsweredOkAt = Date.now();
      observe('ok');
      return res;
    } catch (err) {
      const failure = toHttpCallError(err, 'IMT', method, path, this.secrets);
      observe(failedCallOutcome(failure));
      throw failure;
    }
  }

  private parse<S extends z.ZodType>(schema: S, data: unknown, method: string, path: string): z.infer<S> {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
      .join('; ');
    throw new HttpCallError(
      'invalid-response',
      'IMT',
      method,
      path,
      `IMT's answer to ${method} ${path} does not match the contract: ${problems}`,
    );
  }

  /**
   * Assumed listing of the payments (with their reversals) IMT holds from `source`, by
   * posting day in the biller's time zone, both dates inclusive (contracts C4). 1-based pages.
   */
  async listPayments(
    args: {
      postedFrom: string;
      postedTo: string;
      page: number;
      pageSize: number;
      source?: string;
      /** Contracts C4 (amended): only this transaction (0 or 1 result). */
      transactionId?: string;
    },
    signal?: AbortSignal,
  ): Promise<ImtPaymentPage> {
    const params = {
      source: args.source ?? 'invoice_cloud',
      posted_from: args.postedFrom,
      posted_to: args.postedTo,
      page: args.page,
      page_size: args.pageSize,
      ...(args.transactionId ? { transaction_id: args.transactionId } : {}),
    };
    const path = `/api/integration/payments?${new URLSearchParams({ ...params, page: String(params.page), page_size: String(params.page_size) })}`;
    const res = await this.call('GET', path, () =>
      this.http.get('/api/integration/payments', { signal, params }),
    );
    return this.parse(ImtPaymentPageSchema, res.data, 'GET', path);
  }

  /**
   * IMT's record of one transaction posted between two days (inclusive), or null (contracts C4,
   * its `transaction_id` filter: one listing call, 0 or 1 result).
   */
  async findPayment(
    transactionId: string,
    days: { postedFrom: string; postedTo: string },
    signal?: AbortSignal,
  ): Promise<ImtListedPayment | null> {
    const page = await this.listPayments({ ...days, page: 1, pageSize: 10, transactionId }, signal);
    return page.results.find((p) => p.transaction_id === transactionId) ?? null;
  }
}
