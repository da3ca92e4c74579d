/**
 * The single mapping from an HTTP outcome (integrations/http.ts) to a Temporal failure.
 *
 * | outcome                         | failure type        | retry                              |
 * |---------------------------------|---------------------|------------------------------------|
 * | 400 on a post/reversal          | InvalidPost         | never (operator decides)           |
 * | 404                             | NotFound            | never                              |
 * | other 4xx                       | ClientError         | never                              |
 * | 403                             | AuthRejected        | yes, slowly (credential rotation)  |
 * | 429                             | RateLimited         | yes, after Retry-After             |
 * | 5xx / maintenance               | ServiceUnavailable  | yes, backoff                       |
 * | connection refused/reset        | NetworkError        | yes, backoff                       |
 * | timeout after sending           | AmbiguousTimeout    | yes — only because of contracts C3 |
 * | 2xx not matching the contract   | InvalidResponse     | never                              |
 *
 * Each failure also says whether the call's outcome is unknown (`outcomeUnknown` in its
 * details): a timeout after sending, a reset after connecting, any 5xx (a gateway may
 * answer 5xx after IMT applied the call), a 2xx we could not read. For a posting that means
 * IMT MAY HOLD the payment — workflows/failures.ts reads it, workflows/payment.ts acts on it.
 *
 * IC answers business failures with HTTP 200 and `Success=false` (contracts D); its
 * ErrorMessage is classified by `icRefusalFailure` below (rules in docs/decisions.md):
 *
 * | IC ErrorMessage                          | failure type        | retry                              |
 * |------------------------------------------|---------------------|------------------------------------|
 * | names authentication / credentials       | AuthRejected        | yes, slowly (like IMT's 403)       |
 * | busy / timeout / try again / unavailable | ServiceUnavailable  | yes, backoff                       |
 * | anything else, UploadInvoiceFile         | FileRejected        | never (the file's content)         |
 * | "not found", ViewInvoiceByInvoiceNumber  | NotFound            | never (caller may treat as stale)  |
 * | anything else, ViewInvoiceByInvoiceNumber| ClientError         | never                              |
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, NON_RETRYABLE_FAILURES } from '../domain';
import { HttpCallError, type HttpService } from '../integrations/http';
import type { IcMethod } from '../integrations/ic-client';

export interface FailureDetails {
  status?: number;
  reasons?: unknown;
  retryAfterMs?: number;
  /** The delay the workflow should wait before its next attempt (403 / Retry-After). */
  nextRetryDelayMs?: number;
  /** The call may have been applied although no definite answer came back. */
  outcomeUnknown: boolean;
  /**
   * The service answered other calls of this worker 2xx just before: it is up, and this
   * failure is a one-off, not an outage (set for IMT postings; workflows/payment.ts).
   */
  serviceAnswering?: boolean;
  /**
   * Few calls of this kind failed on this worker in the last minute (a retry budget,
   * activities/retry-budget.ts): a quick retry cannot storm the service. Set for IMT postings.
   */
  withinRetryBudget?: boolean;
  service: HttpService;
  call: string;
}

export interface FailureMappingOptions {
  /** Delay before retrying after a 403 (credentials may be rotated by an operator). */
  authRetryDelayMs: number;
  /** Whether a 400 means "this post/reversal is invalid" (vs a malformed GET). */
  isPost?: boolean;
  /** Whether the service answered other calls 2xx just before (see `FailureDetails`). */
  serviceAnswering?: boolean;
  /** Whether this failure fits the retry budget (see `FailureDetails`). */
  withinRetryBudget?: boolean;
}

/** Upper bound for an honoured Retry-After, so a bogus header cannot park a payment for days. */
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/**
 * The one constructor of a classified failure. Whether a type can ever succeed by repeating
 * is decided by one list (domain/failures.ts); the flag set here from it is what workflows
 * and Temporal's retries read.
 */
function classified(
  type: FailureType,
  message: string,
  details: object,
  nextRetryDelayMs?: number,
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    nonRetryable: NON_RETRYABLE_FAILURES.includes(type),
    message,
    details: [{ ...details, nextRetryDelayMs }],
    nextRetryDelay: nextRetryDelayMs,
  });
}

export function toActivityFailure(err: unknown, opts: FailureMappingOptions): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof HttpCallError)) {
    // A programming or environment error inside the activity: let Temporal retry it.
    const message = err instanceof Error ? err.message : String(err);
    return ApplicationFailure.create({ message, type: 'ActivityError', nonRetryable: false });
  }
  const status0 = err.status ?? 0;
  const details: FailureDetails = {
    status: err.status,
    reasons: err.responseBody,
    retryAfterMs: err.retryAfterMs,
    service: err.service,
    call: `${err.method} ${err.path}`,
    outcomeUnknown:
      err.kind === 'timeout' ||
      err.kind === 'invalid-response' ||
      (err.kind === 'network' && err.requestSent !== false) ||
      (err.kind === 'status' && (status0 >= 500 || status0 === 408)),
    ...(opts.serviceAnswering === undefined ? {} : { serviceAnswering: opts.serviceAnswering }),
    ...(opts.withinRetryBudget === undefined ? {} : { withinRetryBudget: opts.withinRetryBudget }),
  };
  const make = (type: FailureType, message: string, nextRetryDelayMs?: number) =>
    classified(type, message, details, nextRetryDelayMs);

  switch (err.kind) {
    case 'timeout':
      return make(
        FailureType.AmbiguousTimeout,
        `${err.message}; the request may have been processed — retrying is safe because the call is idempotent (${
          err.service === 'IMT' ? 'contracts C3' : 'IC loads a FileName + content once, contracts D'
        })`,
      );
    case 'network':
      return make(FailureType.NetworkError, err.message);
    case 'invalid-response':
      return make(FailureType.InvalidResponse, err.message);
    case 'status':
      break;
  }

  const status = err.status ?? 0;
  const reasons = err.responseBody === undefined ? '' : `: ${JSON.stringify(err.responseBody)}`;
  if (status === 400 && opts.isPost) return make(FailureType.InvalidPost, `${err.message}${reasons}`);
  if (status === 403)
    return make(
      FailureType.AuthRejected,
      `${err.message}: ${err.service} rejected the configured credentials; retrying every ${Math.round(
        opts.authRetryDelayMs / 1000,
      )} s until they are fixed`,
      opts.authRetryDelayMs,
    );
  if (status === 404) return make(FailureType.NotFound, `${err.message}${reasons}`);
  if (status === 429) {
    const wait = err.retryAfterMs === undefined ? undefined : Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS);
    return make(FailureType.RateLimited, `${err.message} (rate limited)`, wait);
  }
  if (status === 408) return make(FailureType.AmbiguousTimeout, err.message);
  if (status >= 400 && status < 500) return make(FailureType.ClientError, `${err.message}${reasons}`);
  const wait =
    err.retryAfterMs === undefined ? undefined : Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) || undefined;
  return make(FailureType.ServiceUnavailable, err.message, wait);
}

/**
 * IC refused a credential: its ErrorMessage names authentication (the simulator and, as
 * far as known, IC say "Authentication failed: invalid BillerGUID or WebServiceKey").
 */
const IC_AUTH_MESSAGE =
  /authenticat|credential|unauthori[sz]ed|not authori[sz]ed|access denied|WebServiceKey|BillerGUID/i;
/** IC says the failure is passing: busy, timed out, try again, temporarily unavailable. */
const IC_TRANSIENT_MESSAGE =
  /\bbusy\b|time[ds]? ?out|try again|temporar(il)?y|unavailable|maintenance|too many requests|deadlock/i;
const IC_NOT_FOUND_MESSAGE = /not found|does not exist|no invoice/i;

export type IcRefusalKind = 'auth' | 'transient' | 'not-found' | 'refused';

/** What an IC `Success=false` ErrorMessage means (rules in docs/decisions.md, "IC Success=false"). */
export function classifyIcRefusal(method: IcMethod, errorMessage: string): IcRefusalKind {
  if (IC_AUTH_MESSAGE.test(errorMessage)) return 'auth';
  if (IC_TRANSIENT_MESSAGE.test(errorMessage)) return 'transient';
  if (method === 'ViewInvoiceByInvoiceNumber' && IC_NOT_FOUND_MESSAGE.test(errorMessage)) return 'not-found';
  return 'refused';
}

/** The failure for an IC answer with `Success=false` (the other half of the one mapping). */
export function icRefusalFailure(
  method: IcMethod,
  errorMessage: string,
  opts: Pick<FailureMappingOptions, 'authRetryDelayMs'>,
  subject: string,
): ApplicationFailure {
  const said = errorMessage || '(no ErrorMessage given)';
  const details: FailureDetails & { errorMessage: string } = {
    service: 'IC',
    call: method,
    errorMessage,
    // IC answered (HTTP 200, Success=false): a definite answer, nothing ambiguous.
    outcomeUnknown: false,
  };
  const make = (type: FailureType, message: string, nextRetryDelayMs?: number) =>
    classified(type, message, details, nextRetryDelayMs);
  switch (classifyIcRefusal(method, errorMessage)) {
    case 'auth':
      return make(
        FailureType.AuthRejected,
        `IC rejected the configured BillerGUID / WebServiceKey on ${method} (${subject}): ${said}; retrying every ${Math.round(
          opts.authRetryDelayMs / 1000,
        )} s until they are fixed`,
        opts.authRetryDelayMs,
      );
    case 'transient':
      return make(FailureType.ServiceUnavailable, `IC is busy on ${method} (${subject}): ${said}`);
    case 'not-found':
      return make(FailureType.NotFound, `IC does not know ${subject}: ${said}`);
    case 'refused':
      return method === 'UploadInvoiceFile'
        ? make(FailureType.FileRejected, `IC refused ${subject}: ${said}`)
        : make(FailureType.ClientError, `IC refused ${method} for ${subject}: ${said}`);
  }
}
