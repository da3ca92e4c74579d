/** Balance refresh (`imt-ic balances refresh --cycle C`, workflows/balance-refresh.ts). */
import type { UploadOutcome } from './export';

export const balanceRefreshWorkflowId = (cycle: string) => `balances-refresh-${cycle}`;

export const BalanceRefreshStatus = {
  /** Reading IMT's and IC's balance of every invoice of the cycle, at the configured rate. */
  COMPARING: 'COMPARING',
  /** Sending one file with the invoices whose balance differs. */
  UPLOADING: 'UPLOADING',
  /** IC refuses our credentials: alerted once, retried slowly until fixed. */
  AUTH_REJECTED: 'AUTH_REJECTED',
  /** Asking IC until it shows the balances sent. */
  VERIFYING: 'VERIFYING',
  /** Done: IC shows IMT's balance for every invoice compared. */
  DONE: 'DONE',
  /** Done, but IC still shows another balance for some invoices after the upload (alerted). */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
} as const;
export type BalanceRefreshStatus = (typeof BalanceRefreshStatus)[keyof typeof BalanceRefreshStatus];

export interface BalanceRefreshInput {
  /** `YYYY-MM-01`. */
  cycle: string;
  /** Calls per second to each of IMT and IC (default 10). */
  ratePerSecond?: number;
  requestedBy?: string;
}

/** One invoice whose balance differed: what IMT holds and what IC showed. */
export interface BalanceDifference {
  invoice_number: string;
  imt: { balanceDue: string; pastDue: string };
  /** null: IC did not know the invoice. */
  ic: { balanceDue: string; pastDue: string } | null;
}

/** What the comparison activity returns: counts and references, never the invoices. */
export interface BalanceComparison {
  cycle: string;
  compared: number;
  differing: number;
  notInIc: number;
  /** Invoices that differ but cannot be written to the file (see the export's rules). */
  unsendable: number;
  /** JSON lines, one `BalanceDifference` per differing invoice. */
  differencesPath: string;
  /** First 20 differences. */
  sample: BalanceDifference[];
  /** The update file (absent when nothing differs). */
  file?: { filePath: string; fileName: string; sha256: string; bytes: number; invoiceCount: number };
}

export interface BalanceVerification {
  verified: number;
  stillDifferent: number;
  /** First 20 that IC still shows differently. */
  sample: BalanceDifference[];
}

/** Heartbeat of the comparison activity (read by the CLI from the pending activity). */
export interface BalanceRefreshCursor {
  phase: 'comparing';
  compared: number;
  total: number | null;
  differing: number;
}

export interface BalanceRefreshProgress {
  status: BalanceRefreshStatus;
  compared?: number;
  total?: number | null;
  differing?: number;
}

export interface BalanceRefreshResult {
  cycle: string;
  status: BalanceRefreshStatus;
  comparison: BalanceComparison;
  upload?: UploadOutcome;
  verification?: BalanceVerification;
}
