/**
 * Voids and ACH rejects from IC (contracts B): what IC sends, and what makes one not about
 * its payment. The transaction's run (domain/transaction.ts) owns the one reversal.
 */
import { toCents } from './money';
import type { PaymentRequest } from './payment';

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
