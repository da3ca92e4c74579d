/**
 * IMT simulator: the shapes IMT answers with and the records it keeps. Shared by the state,
 * the routes and the C4 listing (payments-listing.ts); no logic in here.
 */
import type { ServedPdf } from './bill-pdf';
import type { ImtCustomerDetail } from './dataset';

/** The `/_sim/...` control routes: no auth, never faulted, not in the request log. */
export const SIM_PREFIX = '/_sim';
/** IMT's partner API. */
export const API = '/api/integration';

export const PAYMENT_METHODS = ['cash', 'credit', 'check', 'echeck', 'other'] as const;
export const REVERSAL_TYPES = ['void', 'ach_reject'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
export type ReversalType = (typeof REVERSAL_TYPES)[number];

/** `GET /api/integration/invoice/<n>/detail`, shaped exactly like the design's example. */
export interface ImtInvoiceDetail {
  id: number;
  amount_due: string | null;
  past_due: string;
  invoice_number: string;
  total_amount: string;
  paid_amount: string;
  invoice_month: string;
  sent: boolean;
  status: string;
  due_date: string | null;
  created: string;
  updated: string;
  customer: string;
}

/**
 * The body of `post-payment`, as validated. The simulator stands for IMT, so it keeps its own
 * copy of this shape rather than the service's PaymentRequest: a change on one side must not
 * silently change the other.
 */
export interface PostPaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  payment_method: PaymentMethod;
  message: string;
  source: string;
}

/** What IMT answers for a posted payment: the request plus IMT's id and time. */
export interface PostedPayment extends PostPaymentRequest {
  id: number;
  posted_at: string;
}

/** The body of `reverse-payment` (contracts C2), as validated. */
export interface ReversePaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  reversal_type: ReversalType;
  return_code: string | null;
  amount: string;
  message: string;
  source: string;
}

export interface Reversal {
  id: number;
  transaction_id: string;
  reversal_type: ReversalType;
  return_code: string | null;
  amount: string;
  reversed_at: string;
  payment_id: number;
}

export interface LedgerEntry {
  at: string;
  invoice_number: string;
  transaction_id: string;
  kind: 'posting' | 'reversal';
  reversal_type?: ReversalType;
  return_code?: string | null;
  amount: string;
}

export interface ImtRequestLogEntry {
  method: string;
  /** The URL as requested (path and query). */
  path: string;
  /** 0 when no answer was sent (hang, reset, client gone). */
  status: number;
  at: string;
}

export interface ListPageRequest {
  invoice_month: string;
  page: number;
  page_size: number;
}

/** What a test may give `addInvoice`: any detail field, plus the listing-only fields. */
export type AddInvoiceInput = Partial<ImtInvoiceDetail> & {
  invoice_number: string;
  customer: string;
  amount_due: string;
  invoice_date?: string | null;
  customer_detail?: Partial<ImtCustomerDetail>;
};

/** Django REST Framework's error body: reasons per field. */
export type FieldReasons = Record<string, string[]>;

/** An answer of the state to a partner call: the HTTP status and its body. */
export type Outcome<T> = { status: number; body: T | FieldReasons | { detail: string } };

export interface PaymentRecord {
  payment: PostedPayment;
  request: PostPaymentRequest;
  /** How much of the payment went to the past-due part, so a reversal restores it exactly. */
  pastDueCents: number;
}

export interface ReversalRecord {
  reversal: Reversal;
  request: ReversePaymentRequest;
}

/** IMT's payment records by transaction id: kept by the state, read and changed by the C4 listing. */
export interface PaymentBook {
  readonly payments: Map<string, PaymentRecord>;
  readonly reversalsByTransaction: Map<string, ReversalRecord>;
}

/** Bill PDFs to pad (large-bill tests) and what was served (bill-pdf.ts). */
export interface PdfBook {
  readonly pdfPadding: Map<string, number>;
  readonly servedPdfs: ServedPdf[];
}
