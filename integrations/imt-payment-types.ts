/**
 * Shapes of IMT's assumed listing of payments and reversals by posting date (contracts C4),
 * used by the daily reconciliation. Strict about what the comparison relies on (ids,
 * amounts, dates), so a contract change fails loudly as `InvalidResponse` instead of
 * producing a wrong report; unknown fields are dropped.
 */
import { z } from 'zod';
import { imtPageSchema } from './imt-types';

/** A decimal amount string (`50.00`); IMT always sends amounts as strings. */
const amount = z.string().regex(/^\d+(\.\d{1,2})?$/, 'must be a decimal amount string such as "50.00"');
/** `2022-10-03T16:42:56-05:00` (an offset or Z is required: the day depends on it). */
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset' });

export const ImtListedReversalSchema = z.object({
  id: z.union([z.number(), z.string()]),
  reversal_type: z.enum(['void', 'ach_reject']),
  return_code: z.string().nullish(),
  amount,
  reversed_at: instant,
});
export type ImtListedReversal = z.infer<typeof ImtListedReversalSchema>;

export const ImtListedPaymentSchema = z.object({
  id: z.union([z.number(), z.string()]),
  transaction_id: z.string().min(1),
  customer: z.string(),
  invoice_number: z.string(),
  amount,
  payment_method: z.string(),
  posted_at: instant,
  reversals: z.array(ImtListedReversalSchema),
});
export type ImtListedPayment = z.infer<typeof ImtListedPaymentSchema>;

/** One page of `GET /api/integration/payments?source=…&posted_from=…&posted_to=…&page=N&page_size=M`. */
export const ImtPaymentPageSchema = imtPageSchema(ImtListedPaymentSchema);
export type ImtPaymentPage = z.infer<typeof ImtPaymentPageSchema>;
