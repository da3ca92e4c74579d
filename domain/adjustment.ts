/** Invoice adjustments (contracts B `…/<invoice_number>/adjusted`). */

export const invoiceAdjustedWorkflowId = (invoiceNumber: string) => `invoice-adjusted-${invoiceNumber}`;

export const AdjustmentStatus = {
  /** Collecting a burst of changes (a quiet period) before one update is sent. */
  COLLECTING: 'COLLECTING',
  /** Reading IMT's balance and sending it to IC as a one-row file. */
  SYNCING: 'SYNCING',
  /** Asking IC (ViewInvoiceByInvoiceNumber) until it shows the balance sent. */
  VERIFYING: 'VERIFYING',
  /** IC shows IMT's balance; further changes within a minute start another round. */
  VERIFIED: 'VERIFIED',
  /** IC refuses our credentials: alerted once, retried slowly until they are fixed. */
  AUTH_REJECTED: 'AUTH_REJECTED',
  /** IC still shows another balance after the checks: alerted; `retry` or `dismiss`. */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
  DISMISSED: 'DISMISSED',
} as const;
export type AdjustmentStatus = (typeof AdjustmentStatus)[keyof typeof AdjustmentStatus];

/** One round: IMT's balance sent to IC as a one-row file. */
export interface BalanceSyncResult {
  invoiceNumber: string;
  balanceDue: string;
  pastDue: string;
  fileName: string;
}

/** What IC showed when the round was checked. */
export interface BalanceCheckResult {
  verified: boolean;
  /** ViewInvoiceByInvoiceNumber calls made. */
  checks: number;
  /** IC's values at the last check; null when IC did not know the invoice (yet). */
  icBalanceDue: string | null;
  icPastDue: string | null;
}

export interface InvoiceAdjustmentState {
  invoiceNumber: string;
  status?: AdjustmentStatus;
  reasons: string[];
  syncs: BalanceSyncResult[];
  checks?: BalanceCheckResult[];
  lastError?: { type: string; message: string };
  closingReason?: string;
}

// ---------------------------------------------------------------------------
