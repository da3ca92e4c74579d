/** Balance refresh (`imt-ic balances refresh --cycle C`, workflows/balance-refresh.ts). */
import { isBillingCycle } from './billing-cycle';
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

// ---------------------------------------------------------------------------
// The refresh's decisions (workflows/balance-refresh.ts): outcome of a step → what next and
// what it shows. Pure, unit-tested from tables of cases (test/unit/balance-refresh.test.ts).
//
// NEEDS_ATTENTION ends the run (it does not park): what a person does next is a new refresh
// of the cycle, which compares afresh — IC or IMT may have changed meanwhile.

export const DEFAULT_REFRESH_RATE_PER_SECOND = 10;

export interface RefreshAlert {
  title: string;
  text: string;
}

/** Why the input cannot be refreshed, or undefined. */
export function refreshInputProblem(input: BalanceRefreshInput): string | undefined {
  if (!isBillingCycle(input.cycle))
    return `invalid billing cycle ${JSON.stringify(input.cycle)}: expected YYYY-MM-01`;
  return undefined;
}

/** The refresh's progress once the comparison is done. */
export const comparedProgress = (c: BalanceComparison): Partial<BalanceRefreshProgress> => ({
  compared: c.compared,
  total: c.compared,
  differing: c.differing,
});

export type AfterComparison =
  | { status: typeof BalanceRefreshStatus.DONE; detail: string }
  | {
      status: typeof BalanceRefreshStatus.UPLOADING;
      detail: string;
      file: NonNullable<BalanceComparison['file']>;
    };

/** Nothing differs: done; else the file of those that differ is sent. */
export function afterComparison(c: BalanceComparison): AfterComparison {
  if (!c.file)
    return {
      status: BalanceRefreshStatus.DONE,
      detail:
        c.differing === 0
          ? `${c.compared} invoices compared; IC agrees with IMT on all`
          : `${c.compared} invoices compared; ${c.differing} differ, none can be sent (${c.notInIc} unknown to IC, ${c.unsendable} not sendable)`,
    };
  return {
    status: BalanceRefreshStatus.UPLOADING,
    detail: `${c.file.invoiceCount} of ${c.compared} invoices differ: ${c.file.fileName}`,
    file: c.file,
  };
}

export type AfterVerification =
  | { status: typeof BalanceRefreshStatus.DONE; detail: string }
  | { status: typeof BalanceRefreshStatus.NEEDS_ATTENTION; detail: string; alert: RefreshAlert };

/** IC shows every balance sent: done; else the run ends in NEEDS_ATTENTION with one alert. */
export function afterVerification(
  cycle: string,
  c: BalanceComparison,
  v: BalanceVerification,
): AfterVerification {
  if (v.stillDifferent === 0)
    return { status: BalanceRefreshStatus.DONE, detail: `${v.verified} balances updated in IC and verified` };
  const listed = v.sample.map((d) => d.invoice_number).join(', ');
  const more = v.stillDifferent > v.sample.length ? ', …' : '';
  return {
    status: BalanceRefreshStatus.NEEDS_ATTENTION,
    detail: `${v.stillDifferent} invoices still differ in IC: ${listed}`,
    alert: {
      title: `Balance refresh of cycle ${cycle} needs attention: ${v.stillDifferent} invoices still differ in IC`,
      text: `${v.verified} of ${v.verified + v.stillDifferent} balances sent are shown by IC; still different: ${listed}${more} (all in ${c.differencesPath}). Check them in IC, then \`imt-ic balances refresh --cycle ${cycle}\` compares and sends again.`,
    },
  };
}

export function refreshAuthRejectedAlert(cycle: string, message: string): RefreshAlert {
  return {
    title: `Balance refresh of cycle ${cycle}: IC rejects the credentials`,
    text: `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the refresh resumes by itself.`,
  };
}

export function refreshFailedAlert(cycle: string, type: string, message: string): RefreshAlert {
  return { title: `Balance refresh of cycle ${cycle} failed`, text: `${type}: ${message}` };
}
