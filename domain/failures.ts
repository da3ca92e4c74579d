/**
 * Which failures an activity can report and which of them can never succeed by repeating
 * (activities/errors.ts raises them, workflows read them). The one list of permanent types:
 * an ApplicationFailure's nonRetryable flag is set from it, and workflows ask it, never a
 * second list.
 */

/** Failure types raised by activities (activities/errors.ts) and understood by workflows. */
export const FailureType = {
  /** IMT answered 400 to a post: the data is invalid and will stay invalid. */
  InvalidPost: 'InvalidPost',
  /** IMT answered 404. */
  NotFound: 'NotFound',
  /** Any other 4xx that cannot succeed by repeating it. */
  ClientError: 'ClientError',
  /** IMT answered 403 to our X-Integrator-ID. Retryable (credentials may be rotated), slowly. */
  AuthRejected: 'AuthRejected',
  /** 429 — honour Retry-After. */
  RateLimited: 'RateLimited',
  /** 5xx, maintenance. */
  ServiceUnavailable: 'ServiceUnavailable',
  /** Connection refused/reset, DNS. */
  NetworkError: 'NetworkError',
  /** No answer in time after the request was sent: outcome unknown (see docs/decisions.md). */
  AmbiguousTimeout: 'AmbiguousTimeout',
  /** A 2xx answer that does not match the contract. */
  InvalidResponse: 'InvalidResponse',
  /** IMT confirmed a posting for another transaction_id or amount than the one sent. */
  PostingMismatch: 'PostingMismatch',
  /** IC accepted the SOAP call but refused the file (Success=false). */
  FileRejected: 'FileRejected',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.InvalidPost,
  FailureType.NotFound,
  FailureType.ClientError,
  FailureType.FileRejected,
  FailureType.InvalidResponse,
  FailureType.PostingMismatch,
];

/** What a failed attempt left behind, shown by queries, the CLI and the status call. */
export interface AttemptError {
  type: string;
  message: string;
  status?: number;
  /** IMT's reasons for a 400, as IMT sent them. */
  reasons?: unknown;
  at: string;
}
