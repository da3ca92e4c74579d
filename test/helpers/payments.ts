/** Test data: a payment IC could send, for an invoice the IMT simulator knows. */
import type { ImtSimulator } from '../../simulators/imt/server';
import type { PaymentMethod, PaymentRequest } from '../../domain';
import { uniqueId } from './harness';

let seq = 0;

export interface SeedOptions {
  method?: PaymentMethod;
  amount?: string;
  /** Defaults to a customer no other test in this process uses. */
  customer?: string;
}

export function seedPayment(imt: Pick<ImtSimulator, 'addInvoice'>, opts: SeedOptions = {}): PaymentRequest {
  seq += 1;
  const customer = opts.customer ?? `C${process.pid}${String(seq).padStart(4, '0')}`;
  const amount = opts.amount ?? '50.00';
  const invoice_number = `${customer}20220901`;
  imt.addInvoice({ invoice_number, customer, amount_due: amount, past_due: '0.00' });
  return {
    customer,
    invoice_number,
    transaction_id: uniqueId('T'),
    amount,
    payment_method: opts.method ?? 'echeck',
    message: '',
    source: 'invoice_cloud',
  };
}

/** IC's void for a payment (contracts B); `overrides` change any field (e.g. another amount). */
export function voidOf(p: PaymentRequest, overrides: Record<string, unknown> = {}) {
  return {
    customer: p.customer,
    invoice_number: p.invoice_number,
    transaction_id: p.transaction_id,
    amount: p.amount,
    message: '',
    ...overrides,
  };
}
