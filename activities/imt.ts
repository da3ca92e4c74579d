/**
 * Activities that call IMT. Each one is a thin adapter: call the client, map the
 * HTTP outcome through the one shared mapping (errors.ts).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { toCents, FailureType, type PaymentRequest, type PostedPayment } from '../domain';
import type { ImtClient, ReversePaymentRequest, ImtReversal } from '../integrations/imt-client';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log';

export function createImtActivities(deps: ActivityDeps) {
  const imt: ImtClient = deps.imt;
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: true };

  return {
    /**
     * Posts one payment to IMT. Safe to repeat: IMT deduplicates on transaction_id
     * (contracts C3), and the payment workflow never calls it again once it has a result.
     */
    async postPayment(payment: PaymentRequest): Promise<PostedPayment> {
      const log = activityLogger(deps.logger);
      const attempt = boundedAttempt();
      try {
        const { status, payment: posted } = await imt.postPayment(payment, attempt.signal);
        const mismatch = postingMismatch(payment, posted);
        if (mismatch) {
          // IMT applied *something* for this call: park for a person, and treat it as "IMT may hold it".
          throw ApplicationFailure.create({
            type: FailureType.PostingMismatch,
            nonRetryable: true,
            message: `IMT confirmed the posting with ${mismatch}; a person must compare IMT's ledger with IC`,
            details: [{ service: 'IMT', call: 'POST post-payment', outcomeUnknown: true }],
          });
        }
        log.info(
          { transactionId: payment.transaction_id, imtPaymentId: posted.id, repeat: status === 200 },
          'payment posted to IMT',
        );
        deps.metrics?.paymentsPosted.inc();
        return posted;
      } catch (err) {
        const failure = toActivityFailure(err, mapping);
        const type = failure.type ?? 'Error';
        deps.metrics?.paymentAttemptFailures?.inc(type);
        // A non-retryable posting failure is exactly when the payment workflow parks the payment.
        if (failure.nonRetryable) deps.metrics?.paymentsParked?.inc();
        log.warn(
          { transactionId: payment.transaction_id, failureType: type, permanent: failure.nonRetryable },
          `posting to IMT failed: ${failure.message}`,
        );
        throw failure;
      } finally {
        attempt.done();
      }
    },

    /** Reverses a posted payment in IMT (contracts C2, idempotent per C3). */
    async reversePayment(request: ReversePaymentRequest): Promise<ImtReversal> {
      const attempt = boundedAttempt();
      try {
        const { reversal } = await imt.reversePayment(request, attempt.signal);
        activityLogger(deps.logger).info(
          {
            transactionId: request.transaction_id,
            reversalType: request.reversal_type,
            reversalId: reversal.id,
          },
          'payment reversed in IMT',
        );
        return reversal;
      } catch (err) {
        throw toActivityFailure(err, mapping);
      } finally {
        attempt.done();
      }
    },
  };
}

/** Heartbeat only once an attempt is slow, so a quick one costs no extra call to Temporal. */
const HEARTBEAT_AFTER_MS = 3_000;
/** The HTTP call must give up this long before the activity's start-to-close. */
const DEADLINE_MARGIN_MS = 3_000;

/**
 * The abort signal of one IMT call: the activity's cancellation, plus a deadline that ends
 * the HTTP call before the activity's start-to-close — so a timeout is always *our*
 * AmbiguousTimeout (classified, outcome unknown), never a lost attempt. Meanwhile a slow
 * call heartbeats, so a worker that dies mid-call is noticed within the heartbeat timeout.
 */
function boundedAttempt(): { signal: AbortSignal; done(): void } {
  const ctx = Context.current();
  const budget = ctx.info.startToCloseTimeoutMs - DEADLINE_MARGIN_MS;
  const signals = [ctx.cancellationSignal];
  if (budget > 0) signals.push(AbortSignal.timeout(budget));
  let beat: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    ctx.heartbeat();
    beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_AFTER_MS);
  }, HEARTBEAT_AFTER_MS);
  return {
    signal: AbortSignal.any(signals),
    done: () => {
      clearTimeout(start);
      if (beat) clearInterval(beat);
    },
  };
}

/** IMT's confirmation must name what was sent (issue 9): same transaction and amount. */
export function postingMismatch(sent: PaymentRequest, posted: PostedPayment): string | undefined {
  const problems: string[] = [];
  if (posted.transaction_id !== sent.transaction_id)
    problems.push(`transaction_id ${posted.transaction_id} instead of ${sent.transaction_id}`);
  if (!sameAmount(posted.amount, sent.amount))
    problems.push(`amount ${posted.amount} instead of ${sent.amount}`);
  return problems.length ? problems.join(' and ') : undefined;
}

function sameAmount(a: string, b: string): boolean {
  try {
    return toCents(a) === toCents(b);
  } catch {
    return false;
  }
}
