/**
 * Transport-level outcome of a call to IMT or IC, with no Temporal imports.
 *
 * Every HTTP client in `integrations/` turns an axios failure into an `HttpCallError`
 * through `toHttpCallError`. The error deliberately keeps only what an operator needs
 * (method, path, status, a short body excerpt, Retry-After): never the request
 * headers or body, because those carry `X-Integrator-ID` or IC's WebServiceKey.
 * `activities/errors.ts` is the single place that maps these to retryable or
 * non-retryable Temporal failures.
 */
import { AxiosError, isAxiosError } from 'axios';

export type HttpFailureKind =
  /** The server answered with a status code. */
  | 'status'
  /** No answer within the client timeout. The request may or may not have been processed. */
  | 'timeout'
  /** Connection refused / reset / DNS: the request was (most likely) not processed. */
  | 'network'
  /** The server answered 2xx but the body does not match the contract. */
  | 'invalid-response';

/** Who was called: the two systems of the design, or the operators' alert webhook. */
export type HttpService = 'IMT' | 'IC' | 'webhook';

export class HttpCallError extends Error {
  override readonly name = 'HttpCallError';
  constructor(
    readonly kind: HttpFailureKind,
    readonly service: HttpService,
    readonly method: string,
    readonly path: string,
    message: string,
    readonly status?: number,
    /** Short, redacted excerpt of the answer (for 4xx: the server's reasons). */
    readonly responseBody?: unknown,
    /** Parsed Retry-After header, in milliseconds. */
    readonly retryAfterMs?: number,
    /** For `timeout` / `network`: true when the request may have reached the server. */
    readonly requestSent?: boolean,
  ) {
    super(message);
  }
}

/** Connection errors that prove the request never reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_INVALID_URL',
]);

const SECRET_PATTERNS: RegExp[] = [
  /(<WebServiceKey>)[^<]*(<\/WebServiceKey>)/gi,
  /("?x-integrator-id"?\s*[:=]\s*"?)[^",\s}]+/gi,
  /("?web_?service_?key"?\s*[:=]\s*"?)[^",\s}]+/gi,
];

/** Removes credentials from a string that might echo a request (SOAP faults, error pages). */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, '$1[REDACTED]$2');
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  }
  return out;
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function excerpt(data: unknown, secrets: readonly (string | undefined)[]): unknown {
  if (data === undefined || data === null || data === '') return undefined;
  if (Buffer.isBuffer(data)) return redactSecrets(data.toString('utf8', 0, 500), secrets);
  if (typeof data === 'string') return redactSecrets(data.slice(0, 500), secrets);
  try {
    const json = JSON.stringify(data);
    if (json.length <= 2000) return JSON.parse(redactSecrets(json, secrets));
    return redactSecrets(json.slice(0, 500), secrets);
  } catch {
    return undefined;
  }
}

/**
 * Converts whatever axios threw into an `HttpCallError` that is safe to log and to put
 * into workflow history. `secrets` are additionally scrubbed from any echoed text.
 */
export function toHttpCallError(
  err: unknown,
  service: HttpService,
  method: string,
  path: string,
  secrets: readonly (string | undefined)[] = [],
): HttpCallError {
  if (err instanceof HttpCallError) return err;
  if (isAxiosError(err)) {
    const ax = err as AxiosError;
    if (ax.response) {
      const status = ax.response.status;
      return new HttpCallError(
        'status',
        service,
        method,
        path,
        `${service} answered ${status} to ${method} ${path}`,
        status,
        excerpt(ax.response.data, secrets),
        parseRetryAfter(ax.response.headers?.['retry-after']),
      );
    }
    const code = ax.code ?? 'UNKNOWN';
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
      // axios reports ECONNABORTED for its own timeout; by then the request body has been
      // written (our bodies are small), so the server may have processed it.
      return new HttpCallError(
        'timeout',
        service,
        method,
        path,
        `${service} did not answer ${method} ${path} in time (${code})`,
        undefined,
        undefined,
        undefined,
        true,
      );
    }
    // Refused / unresolvable: nothing was sent. Anything else (reset, broken pipe, socket
    // hang up) may have come after the server read the request.
    const sent = !NOT_SENT_CODES.has(code);
    return new HttpCallError(
      'network',
      service,
      method,
      path,
      `${service} could not be reached for ${method} ${path} (${code})`,
      undefined,
      undefined,
      undefined,
      sent,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HttpCallError(
    'network',
    service,
    method,
    path,
    redactSecrets(`${service} call ${method} ${path} failed: ${message}`, secrets),
  );
}

/**
 * How a call to IMT or IC ended, for metrics: `ok` (2xx, or IC's Success=true),
 * `refused` (IC's Success=false), a status class, or the transport failure. A small fixed
 * set, so a metric label built from it stays bounded.
 */
export type CallOutcome = 'ok' | 'refused' | '4xx' | '5xx' | 'timeout' | 'network' | 'invalid-response';

export const CALL_OUTCOMES: readonly CallOutcome[] = [
  'ok',
  'refused',
  '4xx',
  '5xx',
  'timeout',
  'network',
  'invalid-response',
];

/** Told about every finished call (app/metrics.ts counts them); `call` is a fixed name, never a URL. */
export type CallObserver = (
  service: 'imt' | 'ic',
  call: string,
  outcome: CallOutcome,
  seconds: number,
) => void;

/** The outcome of a failed call, from what the client threw. */
export function failedCallOutcome(err: unknown): CallOutcome {
  if (err instanceof HttpCallError) {
    if (err.kind === 'status') return (err.status ?? 500) >= 500 ? '5xx' : '4xx';
    return err.kind;
  }
  if (isAxiosError(err)) {
    const status = err.response?.status;
    if (status !== undefined) return status >= 500 ? '5xx' : status >= 300 ? '4xx' : 'ok';
    return err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' ? 'timeout' : 'network';
  }
  return 'network';
}
