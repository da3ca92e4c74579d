/**
 * Amounts travel as decimal strings (IMT's convention). Arithmetic happens in integer
 * cents so that sums and comparisons never suffer binary floating-point error.
 */

/** A decimal amount with at most two decimals, e.g. `50`, `50.5`, `50.00`. */
export const DECIMAL_AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

export function toCents(amount: string): number {
  if (!DECIMAL_AMOUNT.test(amount)) throw new Error(`'${amount}' is not a decimal amount`);
  const [whole, frac = ''] = amount.split('.');
  return Number(whole) * 100 + Number(frac.padEnd(2, '0'));
}

export function fromCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Canonical `0.00` form of a decimal string. */
export function normalizeAmount(amount: string): string {
  return fromCents(toCents(amount));
}
