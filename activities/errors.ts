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
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../workflows/messages';
import { HttpCallError, type HttpService } from '../integrations/http';

export interface FailureDetails {
  status?: number;
  reasons?: unknown;
  retryAfterMs?: number;
  /** The delay the workflow should wait before its next attempt (403 / Retry-After). */
  nextRetryDelayMs?: number;
  /** The call may have been applied although no definite answer came back. */
  outcomeUnknown: boolean;
  service: HttpService;
  call: string;
}

export interface FailureMappingOptions {
  /** Delay before retrying after a 403 (credentials may be rotated by an operator). */
  authRetryDelayMs: number;
  /** Whether a 400 means "this post/reversal is invalid" (vs a malformed GET). */
  isPost?: boolean;
}

/** Upper bound for an honoured Retry-After, so a bogus header cannot park a payment for days. */
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

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
  };
  const make = (type: FailureType, nonRetryable: boolean, message: string, nextRetryDelayMs?: number) =>
    ApplicationFailure.create({
      type,
      nonRetryable,
      message,
      details: [{ ...details, nextRetryDelayMs }],
      nextRetryDelay: nextRetryDelayMs,
    });

  switch (err.kind) {
    case 'timeout':
      return make(
        FailureType.AmbiguousTimeout,
        false,
        `${err.message}; the request may have been processed — retrying is safe because the call is idempotent (${
          err.service === 'IMT' ? 'contracts C3' : 'IC loads a FileName + content once, contracts D'
        })`,
      );
    case 'network':
      return make(FailureType.NetworkError, false, err.message);
    case 'invalid-response':
      return make(FailureType.InvalidResponse, true, err.message);
    case 'status':
      break;
  }

  const status = err.status ?? 0;
  const reasons = err.responseBody === undefined ? '' : `: ${JSON.stringify(err.responseBody)}`;
  if (status === 400 && opts.isPost) return make(FailureType.InvalidPost, true, `${err.message}${reasons}`);
  if (status === 403)
    return make(
      FailureType.AuthRejected,
      false,
      `${err.message}: ${err.service} rejected the configured credentials; retrying every ${Math.round(
        opts.authRetryDelayMs / 1000,
      )} s until they are fixed`,
      opts.authRetryDelayMs,
    );
  if (status === 404) return make(FailureType.NotFound, true, `${err.message}${reasons}`);
  if (status === 429) {
    const wait = err.retryAfterMs === undefined ? undefined : Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS);
    return make(FailureType.RateLimited, false, `${err.message} (rate limited)`, wait);
  }
  if (status === 408) return make(FailureType.AmbiguousTimeout, false, err.message);
  if (status >= 400 && status < 500) return make(FailureType.ClientError, true, `${err.message}${reasons}`);
  const wait =
    err.retryAfterMs === undefined ? undefined : Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) || undefined;
  return make(FailureType.ServiceUnavailable, false, err.message, wait);
}
