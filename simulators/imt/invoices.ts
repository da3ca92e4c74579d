/**
 * IMT simulator: invoice records — the generated ones looked up in their cycle, the ones a
 * test adds, and the detail IMT answers for either.
 */
import {
  addDays,
  centsToAmount,
  isFirstOfMonth,
  type ImtCustomerDetail,
  type ImtListedInvoice,
  type InvoiceCycle,
} from './dataset';
import type { AddInvoiceInput, ImtInvoiceDetail } from './types';
import { amountToCents, DECIMAL } from './validation';

export interface StoredInvoice {
  listed: ImtListedInvoice;
  id: number;
  created: string;
  updated: string;
  /** Added through `addInvoice` (listed after the generated cycles of its month), not an override of a generated one. */
  added: boolean;
}

export function toDetail(inv: StoredInvoice): ImtInvoiceDetail {
  const l = inv.listed;
  return {
    id: inv.id,
    amount_due: l.amount_due,
    past_due: l.past_due,
    invoice_number: l.invoice_number,
    total_amount: l.total_amount,
    paid_amount: l.paid_amount,
    invoice_month: l.invoice_month,
    sent: l.sent,
    status: l.status,
    due_date: l.due_date,
    created: inv.created,
    updated: inv.updated,
    customer: l.customer,
  };
}

export function assertAddInvoiceInput(input: AddInvoiceInput): void {
  for (const field of ['invoice_number', 'customer', 'amount_due'] as const) {
    if (typeof input[field] !== 'string' || input[field].trim() === '') {
      throw new TypeError(`addInvoice: ${field} must be a non-empty string`);
    }
  }
  if (!DECIMAL.test(input.amount_due))
    throw new TypeError(`addInvoice: amount_due "${input.amount_due}" is not a decimal`);
  if (input.invoice_month !== undefined && !isFirstOfMonth(input.invoice_month)) {
    throw new TypeError(`addInvoice: invoice_month must be YYYY-MM-01, got "${input.invoice_month}"`);
  }
}

export function buildAddedInvoice(
  input: AddInvoiceInput,
  generated: StoredInvoice | undefined,
  nextId: number,
): StoredInvoice {
  const month = input.invoice_month ?? monthFromInvoiceNumber(input.invoice_number) ?? currentMonth();
  const amountDue = centsToAmount(amountToCents(input.amount_due));
  const now = imtTimestamp(new Date());
  const created = input.created ?? generated?.created ?? now;
  const updated = input.updated ?? now;
  const listed: ImtListedInvoice = {
    invoice_number: input.invoice_number,
    invoice_date: input.invoice_date !== undefined ? input.invoice_date : month,
    due_date: input.due_date !== undefined ? input.due_date : addDays(month, 50),
    amount_due: amountDue,
    past_due: input.past_due ?? '0.00',
    total_amount: input.total_amount ?? amountDue,
    paid_amount: input.paid_amount ?? '0.00',
    invoice_month: month,
    status: input.status ?? 'F',
    sent: input.sent ?? true,
    created,
    updated,
    customer: input.customer,
    customer_detail: {
      ...defaultCustomerDetail(input.customer),
      ...generated?.listed.customer_detail,
      ...input.customer_detail,
    },
  };
  return {
    listed,
    id: input.id ?? generated?.id ?? 900_000_000 + nextId,
    created,
    updated,
    added: generated === undefined,
  };
}

function defaultCustomerDetail(customer: string): ImtCustomerDetail {
  return {
    customer_id: customer,
    customer_name: `Customer ${customer}`,
    address: '',
    address2: '',
    city: '',
    state: '',
    zip: '',
    phone: '',
    email: '',
    registration_value: '',
  };
}

/** IMT invoice numbers end in the invoice month (`0406` + `20220901`). */
function monthFromInvoiceNumber(invoiceNumber: string): string | null {
  const m = /(\d{4})(\d{2})01$/.exec(invoiceNumber);
  if (!m) return null;
  const month = `${m[1]}-${m[2]}-01`;
  return isFirstOfMonth(month) ? month : null;
}

function currentMonth(): string {
  return `${new Date().toISOString().slice(0, 7)}-01`;
}

/** IMT answers timestamps in US Central with an offset, like `2022-10-03T16:41:40-05:00`. */
export function imtTimestamp(date: Date): string {
  const shifted = new Date(date.getTime() - 5 * 3_600_000);
  return `${shifted.toISOString().slice(0, 19)}-05:00`;
}

/** A generated invoice as IMT would store it, or undefined when no cycle holds that number. */
export function generatedInvoice(
  cycles: readonly InvoiceCycle[],
  invoiceNumber: string,
): StoredInvoice | undefined {
  for (const [ordinal, cycle] of cycles.entries()) {
    const index = cycle.indexOf(invoiceNumber);
    if (index === null) continue;
    const listed = cycle.invoiceAt(index);
    return {
      listed: { ...listed, customer_detail: { ...listed.customer_detail } },
      // Distinct id ranges per cycle keep ids unique without storing anything.
      id: (ordinal + 1) * 10_000_000 + index + 1,
      created: listed.created,
      updated: listed.updated,
      added: false,
    };
  }
  return undefined;
}
