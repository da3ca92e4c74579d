/** The ingress's per-client budget (common/rate-limit.ts): fair under many addresses, bounded memory. */
import { describe, expect, it } from 'vitest';
import { ClientRateLimiter } from '../../common/rate-limit';

describe('ClientRateLimiter', () => {
  it('gives each client its own budget and says how long to wait past it', () => {
    const limiter = new ClientRateLimiter(3, 60_000);
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('a', t0))).toEqual([0, 0, 0]);
    expect(limiter.take('a', t0 + 10_000)).toBe(50);
    expect(limiter.take('b', t0 + 10_000)).toBe(0);
    // A new window for `a` once its minute is over.
    expect(limiter.take('a', t0 + 60_000)).toBe(0);
  });

  it('never lumps clients together, however many addresses call; memory stays bounded', () => {
    const limiter = new ClientRateLimiter(2, 60_000, 100);
    const now = 5_000_000;
    // A flood from 10,000 addresses, each within its budget …
    for (let i = 0; i < 10_000; i++) expect(limiter.take(`10.0.${i >> 8}.${i & 255}`, now)).toBe(0);
    expect(limiter.size).toBe(100);
    // … leaves IC's own address its whole budget, and a flooding address is still limited alone.
    expect(limiter.take('203.0.113.7', now)).toBe(0);
    expect(limiter.take('203.0.113.7', now)).toBe(0);
    expect(limiter.take('203.0.113.7', now)).toBeGreaterThan(0);
    expect(limiter.take('203.0.113.8', now)).toBe(0);
  });

  it('keeps a busy client in memory while idle ones are evicted', () => {
    const limiter = new ClientRateLimiter(2, 60_000, 3);
    const now = 9_000_000;
    limiter.take('busy', now);
    limiter.take('busy', now);
    for (const c of ['x', 'y']) {
      limiter.take(c, now);
      limiter.take('busy', now); // over budget, and most recently seen
    }
    limiter.take('z', now); // evicts the least recently seen: x
    expect(limiter.take('busy', now)).toBeGreaterThan(0);
  });
});
