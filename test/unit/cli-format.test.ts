import { afterEach, describe, expect, it } from 'vitest';
import { formatTime } from '../../client/cli/format';

describe('formatTime (CLI): local time with its UTC offset', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it.each([
    ['America/Chicago', '2026-11-25T20:05:09Z', '2026-11-25 14:05:09 -06:00'],
    ['America/Chicago', '2026-07-01T12:00:00Z', '2026-07-01 07:00:00 -05:00'],
    ['Asia/Kolkata', '2026-11-25T20:05:09Z', '2026-11-26 01:35:09 +05:30'],
    ['UTC', '2026-11-25T20:05:09Z', '2026-11-25 20:05:09 +00:00'],
  ])('in %s, %s prints as %s', (zone, iso, expected) => {
    process.env.TZ = zone;
    expect(formatTime(iso)).toBe(expected);
  });

  it('leaves what is not a time as it is', () => {
    expect(formatTime('not a time')).toBe('not a time');
    expect(formatTime(undefined)).toBe('');
  });
});
