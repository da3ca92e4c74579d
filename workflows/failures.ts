/**
 * How a workflow reads a failed activity attempt: what to show, whether to retry, and —
 * for calls that change money in IMT — whether IMT may have applied it anyway.
 *
 * The classification itself is made once, in activities/errors.ts, which puts
 * `outcomeUnknown` into the failure's details. This module only reads it, with a
 * conservative fallback for failures that carry no details (a worker that died, a
 * start-to-close timeout, failures recorded by older code).
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType, type AttemptError } from '../domain';

export interface DescribedFailure {
  /** Repeating the same call cannot succeed: a person must decide. */
  permanent: boolean;
  /** IMT (or IC) asked for this delay (Retry-After, credential rotation). */
  nextRetryDelayMs?: number;
  /** The call may have been applied although no definite answer came back. */
  outcomeUnknown: boolean;
  /** A definite "not applied" answer to this very request (400, 404, other 4xx). */
  definiteRejection: boolean;
  /**
   * The service answered other calls 2xx just before this failure (activities/errors.ts):
   * it is up and the failure is a one-off. Undefined when the failure does not say.
   */
  serviceAnswering?: boolean;
  /**
   * Few postings failed on the worker in the last minute (a retry budget, activities/retry-budget.ts):
   * not an outage, whatever IMT answers other calls. Undefined when the failure does not say.
   */
  withinRetryBudget?: boolean;
  error: AttemptError;
}

/** Types whose outcome is unknown when the failure carries no `outcomeUnknown` detail. */
const UNKNOWN_OUTCOME_TYPES = new Set<string>([
  FailureType.AmbiguousTimeout,
  FailureType.ServiceUnavailable,
  FailureType.NetworkError,
  FailureType.InvalidResponse,
  FailureType.PostingMismatch,
  'ActivityError',
]);
const DEFINITE_REJECTIONS = new Set<string>([
  FailureType.InvalidPost,
  FailureType.NotFound,
  FailureType.ClientError,
]);

/** Unwraps `ActivityFailure → cause` once, for every workflow. */
export function failureCause(err: unknown): unknown {
  return err instanceof ActivityFailure ? (err.cause ?? err) : err;
}

/** The failure's type when an activity raised it (activities/errors.ts), else undefined. */
export function failureTypeOf(err: unknown): string | undefined {
  const cause = failureCause(err);
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

export function failureMessageOf(err: unknown): string {
  const cause = failureCause(err);
  return cause instanceof Error ? cause.message : String(cause);
}

/** Type and message for a run's state or an alert: the activity's type, else the error's name. */
export function failureSummary(err: unknown): { type: string; message: string } {
  const cause = failureCause(err);
  const type =
    cause instanceof ApplicationFailure
      ? (cause.type ?? 'Error')
      : cause instanceof Error
        ? cause.name
        : 'Error';
  return { type, message: failureMessageOf(err) };
}

export function describeFailure(err: unknown): DescribedFailure {
  const at = new Date().toISOString();
  const cause = failureCause(err);
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as {
      status?: number;
      reasons?: unknown;
      nextRetryDelayMs?: number;
      outcomeUnknown?: boolean;
      serviceAnswering?: boolean;
      withinRetryBudget?: boolean;
    };
    const type = cause.type ?? 'Error';
    const outcomeUnknown =
      typeof details.outcomeUnknown === 'boolean' ? details.outcomeUnknown : UNKNOWN_OUTCOME_TYPES.has(type);
    return {
      // Set by activities/errors.ts from the one list of permanent types (domain/failures.ts).
      permanent: cause.nonRetryable === true,
      nextRetryDelayMs: details.nextRetryDelayMs,
      outcomeUnknown,
      definiteRejection: !outcomeUnknown && DEFINITE_REJECTIONS.has(type),
      serviceAnswering: typeof details.serviceAnswering === 'boolean' ? details.serviceAnswering : undefined,
      withinRetryBudget:
        typeof details.withinRetryBudget === 'boolean' ? details.withinRetryBudget : undefined,
      error: { type, message: cause.message, status: details.status, reasons: details.reasons, at },
    };
  }
  // No ApplicationFailure: the attempt timed out (start-to-close / heartbeat — e.g. the
  // worker died mid-request) or was cancelled. Nobody knows what reached IMT.
  const message = cause instanceof Error ? cause.message : String(cause);
  return {
    permanent: false,
    outcomeUnknown: true,
    definiteRejection: false,
    error: { type: cause instanceof Error ? cause.name : 'Error', message, at },
  };
}

/**
 * A child start refused because the workflow ID is taken (REJECT_DUPLICATE: the business
 * key already ran). @temporalio/workflow 1.24.0 does not export the SDK's class
 * (`require('@temporalio/workflow').WorkflowExecutionAlreadyStartedError` is undefined),
 * and workflow files may import nothing else, so the error's name — part of the SDK's
 * contract — is checked here, in one place, for every workflow.
 */
export function isAlreadyStarted(err: unknown): boolean {
  return err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError';
}
