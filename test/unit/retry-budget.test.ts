import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../activities/retry-budget';

describe('RetryBudget', () => {
  it('fits up to perMinute failures in a minute, then not, and fits again once they age out', () => {
    let now = 1_000_000;
    const budget = new RetryBudget(3, () => now);
    expect([budget.spend(), budget.spend(), budget.spend()]).toEqual([true, true, true]);
    now += 10_000;
    expect(budget.spend()).toBe(false);
    expect(budget.spend()).toBe(false);
    // The first three are a minute old: two recent failures remain, plus this one.
    now += 50_000;
    expect(budget.spend()).toBe(true);
    now += 60_000;
    expect(budget.spend()).toBe(true);
  });

  it('a budget of 0 never fits: every failure keeps the long backoff', () => {
    const budget = new RetryBudget(0, () => 0);
    expect(budget.spend()).toBe(false);
  });

  it('keeps at most perMinute + 1 times, however many failures an outage brings', () => {
    let now = 0;
    const budget = new RetryBudget(5, () => now);
    for (let i = 0; i < 100_000; i++) {
      now += 1;
      budget.spend();
    }
    expect((budget as unknown as { failures: number[] }).failures).toHaveLength(6);
  });
});
