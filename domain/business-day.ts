/**
 * Calendar days in the biller's time zone (contracts C4: "dates in the biller's time zone,
 * both inclusive"). Pure functions with no imports, so the workflow sandbox (which day a
 * schedule firing reconciles), the activities (a day's bounds as instants), the IMT
 * simulator (which payments a C4 page lists), the CLI and the tests apply one rule.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real `YYYY-MM-DD` date (checked against the calendar). */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900 || mo < 1 || mo > 12 || d < 1) return false;
  const probe = new Date(Date.UTC(y, mo - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d;
}

/** `2022-10-31` + 1 → `2022-11-01`. */
export function addCalendarDays(date: string, days: number): string {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days);
  return new Date(t).toISOString().slice(0, 10);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallClock(instant: Date, timeZone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    hour: parts.hour,
    minute: parts.minute,
    second: parts.second,
  };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The calendar date of `instant` on a wall clock in `timeZone`. */
export function dateOfInstant(instant: Date, timeZone: string): string {
  const w = wallClock(instant, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** Minutes `timeZone` is ahead of UTC at `instant` (Chicago in winter: -360). */
export function utcOffsetMinutes(instant: Date, timeZone: string): number {
  const w = wallClock(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

/** The first instant of `date` in `timeZone` (DST-aware: the offset is read at that instant). */
export function startOfDay(date: string, timeZone: string): Date {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  const midnightAsUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  let t = midnightAsUtc - utcOffsetMinutes(new Date(midnightAsUtc), timeZone) * 60_000;
  // Once more with the offset in force at the first guess (the day a DST change happens).
  t = midnightAsUtc - utcOffsetMinutes(new Date(t), timeZone) * 60_000;
  return new Date(t);
}

/** `[start, end)` of `date` in `timeZone`, as instants. */
export function dayBounds(date: string, timeZone: string): { start: Date; end: Date } {
  return { start: startOfDay(date, timeZone), end: startOfDay(addCalendarDays(date, 1), timeZone) };
}

/** `2022-10-03T16:42:56-05:00`: an instant as IMT writes it, on the biller's wall clock. */
export function formatInZone(instant: Date, timeZone: string): string {
  const w = wallClock(instant, timeZone);
  const offset = utcOffsetMinutes(instant, timeZone);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}
