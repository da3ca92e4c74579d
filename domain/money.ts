/**
 * Amounts travel as decimal strings (IMT's convention). Arithmetic happens in integer
 * cents so that sums and comparisons never suffer binary floating-point error.
 */

/** A decimal amount with at most two decimals, e.g. `50`, `50.5`, `50.00`. */
export const DECIMAL_AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

export function toCents(amount: string): number {
  if (!DECIMAL_AMOUNT.test(amount)) throw new Error(`'${amount}' is not a decimal amount`);
  // Integer arithmetic on the digits (no split, no padding): the file builder calls this
  // twice per invoice.
  const dot = amount.indexOf('.');
  if (dot === -1) return Number(amount) * 100;
  const frac = Number(amount.slice(dot + 1));
  return Number(amount.slice(0, dot)) * 100 + (amount.length - dot === 2 ? frac * 10 : frac);
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
