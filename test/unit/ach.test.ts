import { describe, expect, it } from 'vitest';
import { bankingDaysBetween, federalReserveHolidays, isLateReturn, returnWindow } from '../../domain';

describe('NACHA return windows', () => {
  it('gives unauthorized returns 60 calendar days and the rest 2 banking days', () => {
    for (const code of ['R05', 'R07', 'R10', 'R11', 'R29', 'R51']) expect(returnWindow(code).days).toBe(60);
    for (const code of ['R01', 'R02', 'R03', 'R04', 'R08', 'R09', 'R20'])
      expect(returnWindow(code)).toEqual({ kind: 'banking-days', days: 2 });
  });

  it('counts banking days, skipping weekends and Federal Reserve holidays', () => {
    // Fri 2022-09-02 → Tue 2022-09-06: Sat, Sun and Labor Day (Mon 09-05) are not banking days.
    expect(bankingDaysBetween('2022-09-02', '2022-09-06')).toBe(1);
    expect(bankingDaysBetween('2022-09-06', '2022-09-08')).toBe(2);
    expect(federalReserveHolidays(2022).has(Date.UTC(2022, 10, 24))).toBe(true); // Thanksgiving
    expect(federalReserveHolidays(2022).has(Date.UTC(2022, 11, 26))).toBe(true); // Christmas observed on Monday
  });

  it('flags a late return', () => {
    expect(isLateReturn('R01', '2022-09-06', '2022-09-08')).toBe(false);
    expect(isLateReturn('R01', '2022-09-06', '2022-09-09T10:00:00Z')).toBe(true);
    expect(isLateReturn('R01', '2022-09-02', '2022-09-07')).toBe(false); // holiday weekend
    expect(isLateReturn('R10', '2022-09-06', '2022-11-05')).toBe(false); // day 60
    expect(isLateReturn('R10', '2022-09-06', '2022-11-06')).toBe(true); // day 61
  });
});
