/**
 * A payment this service has not received yet, waited for under its own business key
 * `payment-<txid>` (issue 13). The intake of a void or ACH reject whose payment it has not
 * seen starts this run with signal-with-start (`earlyEvent`); later early events signal it
 * too. When IC's payment arrives, the payment intake's start is refused ("already
 * started") and its `settled` update delivers the payment here; this run then continues
 * as `paymentWorkflow` with the early events as `earlyEvents` — the same handshake as
 * before (each event checks the payment before anything is posted), without the payment
 * intake having to look for early events on every delivery.
 *
 * Nothing here reaches IMT. The run waits as long as it takes: a payment that arrives
 * after its event was dismissed still starts here, and the closed event does not apply.
 */
import {
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import {
  PAYMENT_WORKFLOW_TYPE,
  PaymentStatus,
  paymentRunMemo,
  samePayment,
  transactionSearchAttributes,
  type AwaitedPaymentInput,
  type PaymentRequest,
  type PaymentState,
  type SettledDelivery,
  earlyEventSignal,
  paymentSettledUpdate,
  paymentStateQuery,
} from '../domain';
import type { paymentWorkflow } from './payment';

/** An awaited payment keeps only the event IDs; this bounds them (a transaction has two kinds of event). */
const MAX_EARLY_EVENTS = 20;

export async function awaitedPaymentWorkflow(input: AwaitedPaymentInput): Promise<void> {
  const earlyEvents = new Set<string>();
  let delivered: { payment: PaymentRequest; receivedAt: string; fingerprint?: string } | undefined;
  const state: PaymentState = {
    transactionId: input.transactionId,
    status: PaymentStatus.AWAITING_PAYMENT,
    attempts: 0,
    imtHolds: 'NO',
    events: [{ at: input.since, event: 'an event for this payment came before the payment' }],
  };
  const record = (event: string, detail?: string) =>
    state.events.push({ at: new Date().toISOString(), event, detail });
  const showDetails = () =>
    setCurrentDetails(
      delivered
        ? `**RECEIVED** · handing over to the payment run`
        : `**AWAITING_PAYMENT** · ${[...earlyEvents].join(', ')} came first; nothing is posted until IC sends the payment and each of them has checked it.`,
    );

  setHandler(paymentStateQuery, () => state);
  setHandler(earlyEventSignal, ({ eventId }) => {
    if (earlyEvents.has(eventId) || earlyEvents.size >= MAX_EARLY_EVENTS) return;
    earlyEvents.add(eventId);
    record('waiting event', eventId);
    showDetails();
  });
  setHandler(
    paymentSettledUpdate,
    (payment, delivery) => {
      if (!delivered) {
        delivered = { payment, receivedAt: new Date().toISOString(), fingerprint: delivery?.fingerprint };
        state.payment = payment;
        state.status = PaymentStatus.RECEIVED;
        record('received');
        showDetails();
      }
      // RECEIVED is never a settled answer of a payment run: the ingress asks that run next.
      return state;
    },
    {
      validator: (payment, _delivery?: SettledDelivery) => {
        if (payment.transaction_id !== input.transactionId)
          throw new Error(`payment ${payment.transaction_id} delivered to the run of ${input.transactionId}`);
        if (delivered && !samePayment(payment, delivered.payment))
          throw new Error(`transaction ${input.transactionId} was already received with different content`);
      },
    },
  );
  showDetails();

  await condition(() => delivered !== undefined);
  await condition(allHandlersFinished);
  const { payment, receivedAt, fingerprint } = delivered!;
  const continueAsPayment = makeContinueAsNewFunc<typeof paymentWorkflow>({
    workflowType: PAYMENT_WORKFLOW_TYPE,
    // The same memo and search attributes the ingress gives a payment run it starts itself.
    memo: paymentRunMemo(payment, fingerprint),
    typedSearchAttributes: transactionSearchAttributes(payment, PaymentStatus.RECEIVED),
  });
  await continueAsPayment({ payment, receivedAt, earlyEvents: [...earlyEvents] });
}
