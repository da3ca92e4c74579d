/**
 * Billing cycles: IMT names a cycle by the first day of its invoice month (`YYYY-MM-01`,
 * contracts C1 `invoice_month`). Pure functions with no imports, so the workflow sandbox,
 * the activities, the client/CLI and the tests all apply the same rule.
 */

const CYCLE = /^(\d{4})-(\d{2})-01$/;
/** Anything earlier is a typo, not a billing month of this integration. */
const MIN_YEAR = 1900;

/** True for `YYYY-MM-01` with a real month (01–12) and a plausible year. */
export function isBillingCycle(value: string): boolean {
  const m = CYCLE.exec(value);
  if (!m) return false;
  const month = Number(m[2]);
  return Number(m[1]) >= MIN_YEAR && month >= 1 && month <= 12;
}

/** True when `timeZone` is an IANA zone this runtime knows (e.g. `America/Chicago`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The cycle an instant belongs to: the month of `instant` as a wall clock in `timeZone`
 * reads it, moved by `offsetMonths` (e.g. -1 = "the month before the schedule fired").
 *
 * The time zone matters at the month boundary: 2022-09-01T02:00Z is still August in
 * Chicago, and a schedule firing on the 1st at 06:00 in Tokyo fires on the last day of
 * the previous month in UTC.
 */
export function cycleOfInstant(instant: Date, timeZone: string, offsetMonths = 0): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
  }).formatToParts(instant);
  const year = Number(parts.find((p) => p.type === 'year')?.value);
  const month = Number(parts.find((p) => p.type === 'month')?.value);
  if (!Number.isInteger(year) || !Number.isInteger(month)) {
    throw new RangeError(`cannot read the month of ${instant.toISOString()} in ${timeZone}`);
  }
  const index = year * 12 + (month - 1) + offsetMonths;
  const y = Math.floor(index / 12);
  const m = index - y * 12 + 1;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-01`;
}

/** The day of the month of `instant` as a wall clock in `timeZone` reads it (1–31). */
export function dayOfMonthIn(instant: Date, timeZone: string): number {
  const day = new Intl.DateTimeFormat('en-US', { timeZone, day: 'numeric' })
    .formatToParts(instant)
    .find((p) => p.type === 'day')?.value;
  const n = Number(day);
  if (!Number.isInteger(n))
    throw new RangeError(`cannot read the day of ${instant.toISOString()} in ${timeZone}`);
  return n;
}
