/**
 * `invoice-adjusted-<invoice_number>`: sends an invoice's new balance to IC after IMT
 * reports a change. IMT may report several changes in a row: they are signals to one
 * running workflow (signal-with-start), and each round reads IMT's *current* balance, so
 * the last change always wins and bursts collapse into few uploads.
 */
import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BalanceSyncResult } from '../activities/adjustment';
import { NON_RETRYABLE_FAILURES, invoiceAdjustedSignal } from './messages';

const { syncInvoiceBalance } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '6 hours',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES, 'InvalidResponse'],
  },
});

export interface InvoiceAdjustmentState {
  invoiceNumber: string;
  reasons: string[];
  syncs: BalanceSyncResult[];
}

export async function invoiceAdjustmentWorkflow(invoiceNumber: string): Promise<InvoiceAdjustmentState> {
  const state: InvoiceAdjustmentState = { invoiceNumber, reasons: [], syncs: [] };
  let pending = false;
  setHandler(invoiceAdjustedSignal, ({ reason }) => {
    pending = true;
    if (reason && state.reasons.length < 50) state.reasons.push(reason);
  });
  // The first signal comes with the start; later ones within a minute of a sync join in.
  for (;;) {
    if (!(await condition(() => pending, '1 minute'))) return state;
    pending = false;
    const roundKey = `${workflowInfo().runId.replace(/-/g, '')}-${state.syncs.length + 1}`;
    state.syncs.push(await syncInvoiceBalance(invoiceNumber, roundKey));
  }
}
