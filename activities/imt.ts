/**
 * Activities that call IMT. Each one is a thin adapter: call the client, map the
 * HTTP outcome through the one shared mapping (errors.ts).
 */
import { Context } from '@temporalio/activity';
import type { ImtClient, ReversePaymentRequest, ImtReversal } from '../integrations/imt-client';
import type { PaymentRequest, PostedPayment } from '../workflows/messages';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './index';

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
      try {
        const { status, payment: posted } = await imt.postPayment(payment, cancellationSignal);
        deps.logger.info(
          { transactionId: payment.transaction_id, imtPaymentId: posted.id, repeat: status === 200 },
          'payment posted to IMT',
        );
        deps.metrics?.paymentsPosted.inc();
        return posted;
      } catch (err) {
        throw toActivityFailure(err, mapping);
      }
    },

    /** Reverses a posted payment in IMT (contracts C2, idempotent per C3). */
    async reversePayment(request: ReversePaymentRequest): Promise<ImtReversal> {
      const { cancellationSignal } = Context.current();
      try {
        const { reversal } = await imt.reversePayment(request, cancellationSignal);
        deps.logger.info(
          { transactionId: request.transaction_id, reversalType: request.reversal_type, reversalId: reversal.id },
          'payment reversed in IMT',
        );
        return reversal;
      } catch (err) {
        throw toActivityFailure(err, mapping);
      }
    },
  };
}
