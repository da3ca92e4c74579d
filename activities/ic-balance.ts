/**
 * What IC shows for an invoice's balance (ViewInvoiceByInvoiceNumber), for the adjustment
 * check and the cycle balance refresh alike: one way of asking, amounts compared to the cent,
 * and how often IC is asked again while it loads a file.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { InvoiceCloudClient, ViewInvoiceResult } from '../integrations/ic-client';
import { classifyIcRefusal, icRefusalFailure, toActivityFailure, type FailureMappingOptions } from './errors';

/** IC loads files asynchronously: how often and how many times the balance is checked. */
export const DEFAULT_IC_BALANCE_CHECK = { intervalMs: 30_000, attempts: 10 };

/** `"12.5"`, `"12.50"` and `"12.500"` are one amount; anything unparsable never matches. */
function cents(amount: string | null | undefined): number | null {
  const m = /^\s*(-?)(\d+)(?:\.(\d{1,3}))?\s*$/.exec(amount ?? '');
  if (!m) return null;
  const frac = (m[3] ?? '').padEnd(3, '0');
  const milli = Number(m[2]) * 1000 + Number(frac);
  return (m[1] === '-' ? -milli : milli) / 10;
}

export function sameAmount(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = cents(a);
  return x !== null && x === cents(b);
}

export function noIc(): never {
  throw ApplicationFailure.create({
    type: 'ConfigurationError',
    nonRetryable: true,
    message: 'this worker has no Invoice Cloud client configured',
  });
}

/**
 * Asks IC for one invoice. "Not found" comes back as an unsuccessful view (IC may not have
 * loaded the invoice yet); any other refusal, or a failed call, fails the activity through
 * the shared mapping (a cancelled activity fails with its cancellation).
 */
export async function viewIcInvoice(
  ic: InvoiceCloudClient,
  invoiceNumber: string,
  signal: AbortSignal,
  mapping: FailureMappingOptions,
): Promise<ViewInvoiceResult> {
  let view;
  try {
    view = await ic.viewInvoiceByInvoiceNumber(invoiceNumber, signal);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw toActivityFailure(err, mapping);
  }
  if (!view.success && classifyIcRefusal('ViewInvoiceByInvoiceNumber', view.errorMessage) !== 'not-found')
    throw icRefusalFailure('ViewInvoiceByInvoiceNumber', view.errorMessage, mapping, invoiceNumber);
  return view;
}
