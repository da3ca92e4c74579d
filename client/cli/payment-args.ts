/**
 * The arguments of `imt-ic payments …`, checked with zod: every value that reaches a
 * visibility query or a URL is held to a strict character set first, so a quote in an
 * argument cannot alter a query.
 */
import os from 'node:os';
import { z } from 'zod';
import { PaymentStatus } from '../../domain';
import { UsageError } from './context';

export const STATUSES = Object.values(PaymentStatus) as [PaymentStatus, ...PaymentStatus[]];

export const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
export const idArg = (what: string, max = 100) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .regex(ID_RULE, `${what} may contain only letters, digits, '.', '_', ':' and '-'`);

const transactionIdArg = idArg('transaction ID');

export const statusList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((v) => v.trim().toUpperCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` })).min(1));

const RELATIVE = /^(\d{1,6})([mhd])$/;
/** `30m`, `24h`, `7d`, or an ISO date / date-time. */
export const sinceSchema = z.string().transform((value, ctx) => {
  const rel = RELATIVE.exec(value.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit);
  }
  const isoDate = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00` : value;
  const parsed = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(isoDate)
    ? new Date(isoDate)
    : new Date(NaN);
  if (Number.isNaN(parsed.getTime())) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a duration like 30m, 24h, 7d or a date like 2022-10-01',
    });
    return z.NEVER;
  }
  return parsed;
});

export const limitSchema = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(10_000, 'must be at most 10000');

export const ListOptionsSchema = z.object({
  status: statusList.optional(),
  invoice: idArg('invoice number', 64).optional(),
  customer: idArg('customer', 64).optional(),
  since: sinceSchema.optional(),
  limit: limitSchema.default(50),
  json: z.boolean().default(false),
  anyTaskQueue: z.boolean().default(false),
});
export type ListOptions = z.infer<typeof ListOptionsSchema>;

export const waitSchema = z.coerce
  .number({ message: 'must be a number of seconds' })
  .min(0, 'must be 0 or more')
  .max(600, 'must be at most 600');

export const bySchema = z.string().min(1).max(100).optional();

export function parseId(value: unknown): string {
  const result = transactionIdArg.safeParse(value);
  if (!result.success) throw new UsageError(`<transaction_id>: ${result.error.issues[0].message}`);
  return result.data;
}

export function operator(by: string | undefined): string {
  if (by) return by;
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}
