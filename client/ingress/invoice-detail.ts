/**
 * Bill presentment pass-through (contracts B): IC asks for an invoice's live detail or its
 * PDF, and the ingress relays IMT's answer. Nothing is started in Temporal.
 */
import type { ImtClient } from '../../integrations/imt-client';
import { HttpCallError } from '../../integrations/http';
import { unavailable, type Answer } from './answers';

const NOT_CONFIGURED = unavailable('IMT is not configured', 30);

export async function invoiceDetail(imt: ImtClient | undefined, invoiceNumber: string): Promise<Answer> {
  if (!imt) return NOT_CONFIGURED;
  try {
    return { kind: 'found', body: await imt.getInvoiceDetail(invoiceNumber) };
  } catch (err) {
    return imtFailure(err);
  }
}

export async function invoicePdf(imt: ImtClient | undefined, invoiceNumber: string): Promise<Answer> {
  if (!imt) return NOT_CONFIGURED;
  try {
    const pdf = await imt.getInvoicePdf(invoiceNumber);
    return {
      kind: 'file',
      contentType: pdf.contentType,
      contentLength: pdf.contentLength,
      stream: pdf.stream,
    };
  } catch (err) {
    return imtFailure(err);
  }
}

/** IMT's own 4xx go to IC unchanged; anything else is a 503 with Retry-After. */
function imtFailure(err: unknown): Answer {
  if (
    err instanceof HttpCallError &&
    err.kind === 'status' &&
    err.status &&
    err.status >= 400 &&
    err.status < 500 &&
    err.status !== 429
  ) {
    return { kind: 'imt-answer', status: err.status, body: err.responseBody ?? { detail: err.message } };
  }
  return unavailable('IMT could not answer in time; retry shortly.', 5);
}
