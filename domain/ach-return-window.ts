/**
 * NACHA return windows, as pure deterministic code (safe inside workflows).
 *
 * Most returns must reach the originator within 2 banking days of settlement; returns
 * for unauthorized debits to consumer accounts (R05, R07, R10, R11, R29, R51) have 60
 * calendar days. A return later than its window is still reversed in IMT — the money is
 * gone either way — but flagged LATE_RETURN so someone can dispute it with the bank.
 */

export const UNAUTHORIZED_RETURN_CODES = ['R05', 'R07', 'R10', 'R11', 'R29', 'R51'] as const;

export type ReturnWindow = { kind: 'banking-days'; days: 2 } | { kind: 'calendar-days'; days: 60 };

export function returnWindow(returnCode: string): ReturnWindow {
  return (UNAUTHORIZED_RETURN_CODES as readonly string[]).includes(returnCode)
    ? { kind: 'calendar-days', days: 60 }
    : { kind: 'banking-days', days: 2 };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYY-MM-DD` (or an ISO timestamp) → UTC midnight of that calendar date. */
function dateOnly(iso: string): number {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return Date.UTC(y, m - 1, d);
}

function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  const first = new Date(Date.UTC(year, month, 1)).getUTCDay();
  return Date.UTC(year, month, 1 + ((weekday - first + 7) % 7) + (n - 1) * 7);
}

function lastWeekday(year: number, month: number, weekday: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, last.getUTCDate() - ((last.getUTCDay() - weekday + 7) % 7));
}

/** Federal Reserve holidays (the ACH network's non-settlement days) of a year. */
export function federalReserveHolidays(year: number): Set<number> {
  const fixed = (month: number, day: number) => {
    const t = Date.UTC(year, month, day);
    // A holiday on Sunday is observed on Monday; the Fed does not observe Saturday holidays on Friday.
    return new Date(t).getUTCDay() === 0 ? t + DAY_MS : t;
  };
  return new Set([
    fixed(0, 1),
    nthWeekday(year, 0, 1, 3), // Martin Luther King Jr. Day
    nthWeekday(year, 1, 1, 3), // Washington's Birthday
    lastWeekday(year, 4, 1), // Memorial Day
    fixed(5, 19),
    fixed(6, 4),
    nthWeekday(year, 8, 1, 1), // Labor Day
    nthWeekday(year, 9, 1, 2), // Columbus Day
    fixed(10, 11),
    nthWeekday(year, 10, 4, 4), // Thanksgiving
    fixed(11, 25),
  ]);
}

export function isBankingDay(t: number): boolean {
  const day = new Date(t).getUTCDay();
  if (day === 0 || day === 6) return false;
  return !federalReserveHolidays(new Date(t).getUTCFullYear()).has(t);
}

/** Banking days strictly after `from` up to and including `to`. */
export function bankingDaysBetween(fromIso: string, toIso: string): number {
  let count = 0;
  for (let t = dateOnly(fromIso) + DAY_MS; t <= dateOnly(toIso); t += DAY_MS) if (isBankingDay(t)) count += 1;
  return count;
}

export function isLateReturn(returnCode: string, settledOnIso: string, returnedAtIso: string): boolean {
  const window = returnWindow(returnCode);
  if (window.kind === 'calendar-days') {
    return (dateOnly(returnedAtIso) - dateOnly(settledOnIso)) / DAY_MS > window.days;
  }
  return bankingDaysBetween(settledOnIso, returnedAtIso) > window.days;
}
