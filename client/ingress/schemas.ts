/**
 * zod schemas of what IC sends to the ingress (contracts B). Strict: unknown fields are
 * rejected, not ignored, and every message names the field and what is wrong with it.
 */
import { z } from 'zod';
import { PAYMENT_METHODS } from '../../domain';

const AMOUNT_RULE = 'a decimal string greater than zero with at most two decimals, e.g. "50.00"';

export const amountSchema = z.string({ message: `must be ${AMOUNT_RULE}` }).superRefine((value, ctx) => {
  if (!/^-?\d+(\.\d+)?$/.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `'${value.slice(0, 20)}' is not a number; must be ${AMOUNT_RULE}`,
    });
  } else if (value.startsWith('-')) {
    ctx.addIssue({ code: 'custom', message: `must be greater than zero (got ${value})` });
  } else if (/\.\d{3,}$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `must have at most two decimals (got ${value})` });
  } else if (!/^\d{1,12}(\.\d{1,2})?$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `is too large (got ${value.slice(0, 20)})` });
  } else if (/^0+(\.0+)?$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `must be greater than zero (got ${value})` });
  }
});

/** Identifiers end up in workflow IDs and URLs: keep them to a safe character set. */
const idSchema = (what: string, max = 64) =>
  z
    .string({ message: `must be a string (${what})` })
    .min(1, `must not be empty (${what})`)
    .max(max, `must be at most ${max} characters`)
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
      `may contain only letters, digits, '.', '_', ':' and '-' (${what})`,
    );

export const PostPaymentSchema = z.strictObject(
  {
    customer: idSchema('the IMT customer / IC AccountNumber'),
    invoice_number: idSchema('the IMT invoice number'),
    transaction_id: idSchema("IC's payment GUID", 100),
    amount: amountSchema,
    payment_method: z.enum(PAYMENT_METHODS, {
      message: `must be one of ${PAYMENT_METHODS.join(', ')}`,
    }),
    message: z
      .string({ message: 'must be a string (may be empty)' })
      .max(1000, 'must be at most 1000 characters'),
    source: z.string({ message: 'must be a string, e.g. "invoice_cloud"' }).min(1).max(64),
  },
  { message: 'body must be a JSON object' },
);
export type PostPaymentBody = z.infer<typeof PostPaymentSchema>;

export const RETURN_CODE = /^R(0[1-9]|[1-7]\d|8[0-5])$/;

export const VoidPaymentSchema = z.strictObject(
  {
    customer: idSchema('the IMT customer'),
    invoice_number: idSchema('the IMT invoice number'),
    transaction_id: idSchema('the GUID of the payment being voided', 100),
    amount: amountSchema,
    message: z.string({ message: 'must be a string (may be empty)' }).max(1000),
  },
  { message: 'body must be a JSON object' },
);
export type VoidPaymentBody = z.infer<typeof VoidPaymentSchema>;

export const AchRejectSchema = z.strictObject(
  {
    customer: idSchema('the IMT customer'),
    invoice_number: idSchema('the IMT invoice number'),
    transaction_id: idSchema('the GUID of the returned payment', 100),
    amount: amountSchema,
    return_code: z.string().regex(RETURN_CODE, 'must be a NACHA return code R01 … R85'),
    returned_at: z.iso
      .date({ message: 'must be an ISO date, e.g. 2022-10-05' })
      .or(z.iso.datetime({ offset: true, message: 'must be an ISO date, e.g. 2022-10-05' })),
    message: z.string({ message: 'must be a string (may be empty)' }).max(1000),
  },
  { message: 'body must be a JSON object' },
);
export type AchRejectBody = z.infer<typeof AchRejectSchema>;

/** `{ "amount": ["must be …"], "extra": ["unknown field"] }` — one entry per bad field. */
export function fieldErrors(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) (out[key] ??= []).push('unknown field (not part of the contract)');
      continue;
    }
    const key = issue.path.length ? issue.path.join('.') : '(body)';
    const message =
      issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    (out[key] ??= []).push(message);
  }
  return out;
}

export const InvoiceNumberParamSchema = idSchema('the IMT invoice number');
export const TransactionIdParamSchema = idSchema("IC's payment GUID", 100);

/**
 * The one validator of every path parameter of every route, by name. A parameter without an
 * entry is refused, so a new route cannot forward an unchecked path segment (`..`, `%2e%2e`,
 * `a/b` encoded) into a URL of IMT or into a workflow ID.
 */
export const PATH_PARAMS: Record<string, z.ZodType<string>> = {
  invoice_number: InvoiceNumberParamSchema,
  transaction_id: TransactionIdParamSchema,
};

/** `{ invoice_number: ["may contain only …"] }` for each bad path parameter; undefined when all pass. */
export function pathParamErrors(params: unknown): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries((params ?? {}) as Record<string, unknown>)) {
    const schema = PATH_PARAMS[name];
    if (!schema) {
      out[name] = ['is not a known path parameter'];
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) out[name] = parsed.error.issues.map((i) => i.message);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** What IMT sends when an invoice changed: `{}` or `{"reason": "…"}`. */
export const InvoiceAdjustedSchema = z.strictObject(
  { reason: z.string({ message: 'must be a string' }).max(500, 'must be at most 500 characters').optional() },
  { message: 'body must be a JSON object, e.g. {} or {"reason": "late fee added"}' },
);
