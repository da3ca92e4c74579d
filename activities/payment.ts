/**
 * The payment's activity: post one payment to IMT (contracts C3) and check that IMT's
 * confirmation names what was sent. A thin adapter over the IMT client; every HTTP outcome
 * goes through the one shared mapping (errors.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { toCents, FailureType, type PaymentRequest, type PostedPayment } from '../domain';
import type { ImtClient } from '../integrations/imt-client';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';
import { boundedAttempt } from './imt-attempt';
import { activityLogger } from './log';
import { POSTING_RETRY_BUDGET_PER_MINUTE, RetryBudget } from './retry-budget';

/** IMT answered a call 2xx this recently: a failed posting is a one-off, not an outage. */
export const IMT_ANSWERING_WINDOW_MS = 10_000;

export function createPaymentActivities(deps: ActivityDeps) {
  const imt: ImtClient = deps.imt;
  const answeringWindowMs = deps.imtAnsweringWindowMs ?? IMT_ANSWERING_WINDOW_MS;
  const budget = new RetryBudget(deps.postingRetryBudgetPerMinute ?? POSTING_RETRY_BUDGET_PER_MINUTE);

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
        const failure = toActivityFailure(err, {
          authRetryDelayMs: deps.authRetryDelayMs,
          isPost: true,
          // Read after the failed call, which never counts as an answer itself.
          serviceAnswering: imt.answeredOkWithin(answeringWindowMs),
          // Few postings of this worker failed in the last minute: not an outage (retry-budget.ts).
          withinRetryBudget: budget.spend(),
        });
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
