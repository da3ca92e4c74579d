/**
 * Shapes of IMT's assumed billing-cycle listing (contracts.md C1).
 *
 * These schemas are deliberately lenient: they check the *shape* of a page, not whether
 * an invoice is good enough for the invoice file. An invoice with a missing customer
 * name or an unparsable amount must still come through, so that the file builder
 * (`bif.ts`) can leave it out and list it, with its reasons, in the export's report.
 * Rejecting it here would fail the whole page and hide which invoice was the problem.
 *
 * So every text field accepts a string, a number (converted to its decimal string: a
 * JSON number where IMT documents a string is tolerated, not trusted), `null`, or
 * nothing. Unknown fields are dropped.
 */
import { z } from 'zod';

/** A text field IMT may send as a string, a number, `null`, or not at all. */
const looseText = z.union([z.string(), z.number().transform((n) => String(n))]).nullish();

export const ImtCustomerDetailSchema = z.object({
  customer_id: looseText,
  customer_name: looseText,
  address: looseText,
  address2: looseText,
  city: looseText,
  state: looseText,
  zip: looseText,
  phone: looseText,
  email: looseText,
  registration_value: looseText,
});
export type ImtCustomerDetail = z.infer<typeof ImtCustomerDetailSchema>;

/** One item of C1's `results`. */
export const ImtListedInvoiceSchema = z.object({
  invoice_number: looseText,
  invoice_date: looseText,
  due_date: looseText,
  amount_due: looseText,
  past_due: looseText,
  total_amount: looseText,
  paid_amount: looseText,
  invoice_month: looseText,
  status: looseText,
  /** Only `true` counts as sent (contracts C1); anything else keeps the invoice out of the file. */
  sent: z.union([z.boolean(), z.string(), z.number()]).nullish(),
  created: looseText,
  updated: looseText,
  customer: looseText,
  customer_detail: ImtCustomerDetailSchema.nullish(),
});
export type ImtListedInvoice = z.infer<typeof ImtListedInvoiceSchema>;

/** IMT's paging envelope around `item`, the same for every listing (contracts C1, C4). */
export const imtPageSchema = <T extends z.ZodType>(item: T) =>
  z.object({
    count: z.number().int().nonnegative(),
    /** Absolute URL of the next page, or null on the last page. */
    next: z.string().nullish(),
    previous: z.string().nullish(),
    results: z.array(item),
  });

/** One page of `GET /api/integration/invoices?invoice_month=…&page=N&page_size=M`. */
export const ImtInvoicePageSchema = imtPageSchema(ImtListedInvoiceSchema);
export type ImtInvoicePage = z.infer<typeof ImtInvoicePageSchema>;
