/**
 * Activities that call IMT. Each one is a thin adapter: call the client, map the
 * HTTP outcome through the one shared mapping (errors.ts).
 */
import { Context } from '@temporalio/activity';
import type { ImtClient, ReversePaymentRequest, ImtReversal } from '../integrations/imt-client';
import type { PaymentRequest, PostedPayment } from '../workflows/messages';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './index';
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
      const { cancellationSignal } = Context.current();
      const log = activityLogger(deps.logger);
      try {
        const { status, payment: posted } = await imt.postPayment(payment, cancellationSignal);
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
      }
    },

    /** Reverses a posted payment in IMT (contracts C2, idempotent per C3). */
    async reversePayment(request: ReversePaymentRequest): Promise<ImtReversal> {
      const { cancellationSignal } = Context.current();
      try {
        const { reversal } = await imt.reversePayment(request, cancellationSignal);
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
      }
    },
  };
}
