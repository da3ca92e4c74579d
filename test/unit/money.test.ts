import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromCents, normalizeAmount, toCents } from '../../domain';

describe('money', () => {
  it('converts decimal strings to integer cents and back', () => {
    expect(toCents('0')).toBe(0);
    expect(toCents('7')).toBe(700);
    expect(toCents('7.5')).toBe(750);
    expect(toCents('7.05')).toBe(705);
    expect(toCents('007.50')).toBe(750);
    expect(toCents('999999999999.99')).toBe(99_999_999_999_999);
    expect(normalizeAmount('1234.5')).toBe('1234.50');
    expect(fromCents(-705)).toBe('-7.05');
  });

  it('refuses what is not a decimal amount with at most two decimals', () => {
    for (const bad of ['', '-1', '1.005', '1.', '.5', '1,000', '1e3', ' 1', '$1'])
      expect(() => toCents(bad)).toThrow('is not a decimal amount');
  });

  it('agrees with BigInt arithmetic on any valid amount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 999_999_999_999n }),
        fc.constantFrom('', '.0', '.5', '.05', '.50', '.99'),
        (whole, frac) => {
          const amount = `${whole}${frac}`;
          const digits = frac.slice(1).padEnd(2, '0');
          expect(BigInt(toCents(amount))).toBe(whole * 100n + BigInt(digits));
          expect(fromCents(toCents(amount))).toBe(`${whole}.${digits}`);
        },
      ),
    );
  });
});
