/**
 * IMT simulator: what IMT accepts, with the reasons Django REST Framework gives
 * (`{"field": ["reason"]}`), which is what IMT's API answers with. Each field is checked
 * on its own, so every bad field gets its reasons, in the order IMT reports them.
 */
import { z } from 'zod';
import { centsToAmount, isFirstOfMonth } from './dataset';
import { DEFAULT_PAGE_SIZE, INVALID_PAGE, MAX_PAGE_SIZE } from './paging';
import {
  PAYMENT_METHODS,
  REVERSAL_TYPES,
  type FieldReasons,
  type ListPageRequest,
  type PostPaymentRequest,
  type ReversePaymentRequest,
  type ReversalType,
} from './types';

// ---------------------------------------------------------------------------
// Amounts (integer cents, so balances never drift)

export const DECIMAL = /^-?\d+(\.\d+)?$/;
const MAX_DIGITS = 10;

export function amountToCents(amount: string): number {
  const negative = amount.startsWith('-');
  const [int, frac = ''] = amount.replace('-', '').split('.');
  const cents = Number(int) * 100 + Number(frac.padEnd(2, '0'));
  return negative ? -cents : cents;
}

/** DRF DecimalField(max_digits=10, decimal_places=2, min_value=0.01) messages for a string amount. */
function amountProblem(value: string): string | null {
  if (!DECIMAL.test(value)) return 'A valid number is required.';
  const [int, frac = ''] = value.replace('-', '').split('.');
  if (frac.length > 2) return 'Ensure that there are no more than 2 decimal places.';
  if (int.replace(/^0+/, '').length + frac.length > MAX_DIGITS) {
    return `Ensure that there are no more than ${MAX_DIGITS} digits in total.`;
  }
  if (amountToCents(value) < 1) return 'Ensure this value is greater than or equal to 0.01.';
  return null;
}

// ---------------------------------------------------------------------------
// Field schemas (DRF's CharField, ChoiceField and DecimalField messages)

const REQUIRED = 'This field is required.';
const NOT_NULL = 'This field may not be null.';

/** Missing and null come first, as in DRF; then the field's own "wrong type" message. */
function typeError(wrongType: string) {
  return (issue: { input?: unknown }): string =>
    issue.input === undefined ? REQUIRED : issue.input === null ? NOT_NULL : wrongType;
}

function drfString(opts: { allowBlank: boolean }) {
  const text = z.string({ error: typeError('Not a valid string.') });
  if (opts.allowBlank) return text;
  return text.refine((s) => s.trim() !== '', { message: 'This field may not be blank.', abort: true });
}

function drfChoice<T extends string>(choices: readonly T[]) {
  return drfString({ allowBlank: false })
    .refine((s) => (choices as readonly string[]).includes(s), {
      error: (issue) => `"${String(issue.input)}" is not a valid choice.`,
    })
    .transform((s) => s as T);
}

/** Amounts must be strings (contract); answered normalised to two decimals. */
const drfAmount = z.string({ error: typeError('A valid number is required.') }).transform((value, ctx) => {
  const problem = amountProblem(value);
  if (problem === null) return centsToAmount(amountToCents(value));
  ctx.addIssue({ code: 'custom', message: problem });
  return z.NEVER;
});

/** NACHA return codes R01…R85. */
const RETURN_CODE = /^R(0[1-9]|[1-7]\d|8[0-5])$/;

/** An ACH reject carries the bank's NACHA return code; a void has none. */
function returnCodeSchema(reversalType: unknown): z.ZodType<string | null> {
  if (reversalType === 'void') {
    return z
      .unknown()
      .refine((v) => v === undefined || v === null, 'A void has no return code; send null.')
      .transform(() => null);
  }
  if (reversalType !== 'ach_reject') return z.unknown().transform(() => null);
  return z.unknown().transform((value, ctx) => {
    if (typeof value === 'string' && RETURN_CODE.test(value)) return value;
    const missing = value === undefined || value === null || value === '';
    ctx.addIssue({
      code: 'custom',
      message: missing
        ? 'This field is required for an ach_reject.'
        : `"${String(value)}" is not a valid NACHA return code (R01 to R85).`,
    });
    return z.NEVER;
  });
}

// ---------------------------------------------------------------------------
// Request bodies

export type JsonObject = Record<string, unknown>;
type Parsed<T> = { value: T } | { reasons: FieldReasons };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks each field of `body` with its schema; reasons keep the order of `shape`. */
function checkFields<S extends Record<string, z.ZodType>>(
  shape: S,
  body: JsonObject,
): Parsed<{ [K in keyof S]: z.output<S[K]> }> {
  const reasons: FieldReasons = {};
  const value: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(shape)) {
    const result = schema.safeParse(body[field]);
    if (result.success) value[field] = result.data;
    else reasons[field] = result.error.issues.map((i) => i.message);
  }
  if (Object.keys(reasons).length > 0) return { reasons };
  return { value: value as { [K in keyof S]: z.output<S[K]> } };
}

const postPaymentFields = {
  customer: drfString({ allowBlank: false }),
  invoice_number: drfString({ allowBlank: false }),
  transaction_id: drfString({ allowBlank: false }),
  amount: drfAmount,
  payment_method: drfChoice(PAYMENT_METHODS),
  message: drfString({ allowBlank: true }),
  source: drfString({ allowBlank: false }),
};

export function validatePostPayment(body: JsonObject): Parsed<PostPaymentRequest> {
  return checkFields(postPaymentFields, body);
}

export function validateReversePayment(body: JsonObject): Parsed<ReversePaymentRequest> {
  // reversal_type first: IMT reports its reasons before the others'.
  return checkFields(
    {
      reversal_type: drfChoice<ReversalType>(REVERSAL_TYPES),
      customer: drfString({ allowBlank: false }),
      invoice_number: drfString({ allowBlank: false }),
      transaction_id: drfString({ allowBlank: false }),
      return_code: returnCodeSchema(body.reversal_type),
      amount: drfAmount,
      message: drfString({ allowBlank: true }),
      source: drfString({ allowBlank: false }),
    },
    body,
  );
}

export function notADictionary(body: unknown): FieldReasons {
  const got = Array.isArray(body) ? 'list' : body === null || body === undefined ? 'null' : typeof body;
  return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${got}.`] };
}

export function isFieldReasons(value: unknown): value is FieldReasons {
  return (
    isJsonObject(value) &&
    Object.values(value).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))
  );
}

// ---------------------------------------------------------------------------
// The invoice listing's query (contracts C1)

const PAGE_SIZE_INVALID = 'A valid integer of at least 1 is required.';

/** One reason at a time, month first, like the listing IMT runs; `page` problems are answered 404. */
const listQueryFields = {
  invoice_month: z
    .string({ error: REQUIRED })
    .min(1, REQUIRED)
    .refine(isFirstOfMonth, 'Enter the first day of the billing month as YYYY-MM-01.'),
  page_size: z.coerce
    .number({ error: PAGE_SIZE_INVALID })
    .int(PAGE_SIZE_INVALID)
    .min(1, PAGE_SIZE_INVALID)
    .max(MAX_PAGE_SIZE, `Ensure this value is less than or equal to ${MAX_PAGE_SIZE}.`)
    .default(DEFAULT_PAGE_SIZE),
  // DRF's PageNumberPagination answers 404 "Invalid page." for anything but a page that exists.
  page: z.coerce.number().int().min(1).default(1),
};

export type ListQuery = { invoice_month?: string; page?: string; page_size?: string };

export function parseListQuery(
  query: ListQuery,
): { value: ListPageRequest } | { status: number; body: object } {
  const parsed = checkFields(listQueryFields, query ?? {});
  if ('value' in parsed) {
    const { invoice_month, page, page_size } = parsed.value;
    return { value: { invoice_month, page, page_size } };
  }
  const [field, reasons] = Object.entries(parsed.reasons)[0];
  if (field === 'page') return { status: 404, body: INVALID_PAGE };
  return { status: 400, body: { [field]: [reasons[0]] } };
}
