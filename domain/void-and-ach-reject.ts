/**
 * Voids and ACH rejects from IC (contracts B): what IC sends, the event run's state and
 * the one reversal per transaction that whichever event comes first owns.
 */
import type { AttemptError } from './failures';
import { toCents } from './money';
import type { PaymentEvent, PaymentRequest, PaymentStatus } from './payment';

export type ReversalKind = 'void' | 'ach_reject';

/** What IC sent for a void (contracts B). */
export interface VoidEvent {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  message: string;
}

/** What IC sent for an ACH reject (contracts B). */
export interface AchRejectEvent extends VoidEvent {
  return_code: string;
  returned_at: string;
}

export interface ReversalEventInput {
  kind: ReversalKind;
  event: VoidEvent | AchRejectEvent;
  receivedAt: string;
  /** How long to wait for a payment this service has not seen (default 24 h). */
  unknownPaymentWaitMs: number;
  /** Carried over by continue-as-new (a very long wait keeps the history bounded). */
  carried?: {
    state: ReversalEventState;
    told: { cancel: boolean; mismatch: boolean };
    alerted: boolean;
    deadline: number;
  };
}

export interface ReversalEventState {
  kind: ReversalKind;
  transactionId: string;
  status: PaymentStatus;
  event: VoidEvent | AchRejectEvent;
  /** Status of the payment run when this event was resolved. */
  paymentStatus?: PaymentStatus;
  reversal?: ReversalOutcome;
  /** Set when the other event type already reversed (or cancelled) this payment. */
  reversedBy?: ReversalKind;
  /**
   * How the event was resolved against IMT (issue 9): `nothing-posted` (IMT never had the
   * payment: never sent, or definitely refused), `reversed` (the payment was posted, then
   * reversed), `posted-to-settle-then-reversed` (IMT may have had it, so the posting was
   * finished idempotently and then reversed), `already-reversed`.
   */
  resolution?: 'nothing-posted' | 'reversed' | 'posted-to-settle-then-reversed' | 'already-reversed';
  lateReturn?: boolean;
  lastError?: AttemptError;
  closingReason?: string;
  events: PaymentEvent[];
}

export interface ReversalInput {
  kind: ReversalKind;
  transactionId: string;
  customer: string;
  invoiceNumber: string;
  amount: string;
  returnCode: string | null;
  message: string;
  lateReturn: boolean;
  requestedBy: string;
}

export interface ReversalOutcome {
  kind: ReversalKind;
  status: PaymentStatus;
  amount: string;
  returnCode: string | null;
  imtReversalId?: number | string;
  lateReturn: boolean;
  attempts: number;
  lastError?: AttemptError;
  closingReason?: string;
  events: PaymentEvent[];
}

/** What makes an event not about this payment. Empty when they match. */
export function eventDifferences(
  kind: ReversalKind,
  event: { customer: string; invoice_number: string; amount: string },
  payment: Pick<PaymentRequest, 'customer' | 'invoice_number' | 'amount'> & { payment_method?: unknown },
): string[] {
  const out: string[] = [];
  if (event.customer !== payment.customer)
    out.push(`customer ${event.customer} differs from the payment's ${payment.customer}`);
  if (event.invoice_number !== payment.invoice_number)
    out.push(`invoice ${event.invoice_number} differs from the payment's ${payment.invoice_number}`);
  if (toCents(event.amount) !== toCents(payment.amount))
    out.push(`amount ${event.amount} differs from the payment's ${payment.amount}`);
  if (kind === 'ach_reject' && payment.payment_method !== undefined && payment.payment_method !== 'echeck')
    out.push(
      `an ACH reject for a ${String(payment.payment_method)} payment (only echeck payments can be returned)`,
    );
  return out;
}
