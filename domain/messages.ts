/**
 * The signals, queries and updates of every workflow, by name and type: workflows set
 * their handlers on these, and the ingress, the CLI and the activities that talk to other
 * runs send them, all from this one file.
 */
import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { InvoiceAdjustmentState } from './adjustment';
import type { RaisedAlert } from './alerts';
import type { BalanceRefreshProgress } from './balance-refresh';
import type { ApproveExportInput, ExportProgress, ExportSummary, RejectExportInput } from './export';
import type { DismissInput } from './payment';
import type { DeliverInput, TransactionState } from './transaction';
import type { DeliveryAnswer, OperatorAnswer } from './transaction-events';

// The same objects @temporalio/workflow's defineSignal / defineQuery / defineUpdate return
// (typed by @temporalio/common's public definitions). Built here so that domain/ imports no
// SDK runtime and every layer can share one set of definitions.
const defineSignal = <Args extends unknown[] = []>(name: string): SignalDefinition<Args> =>
  ({ type: 'signal', name }) as SignalDefinition<Args>;
const defineQuery = <Ret>(name: string): QueryDefinition<Ret> =>
  ({ type: 'query', name }) as QueryDefinition<Ret>;
const defineUpdate = <Ret, Args extends unknown[] = []>(name: string): UpdateDefinition<Ret, Args> =>
  ({ type: 'update', name }) as UpdateDefinition<Ret, Args>;

// Transactions (workflows/transaction.ts)
/**
 * IC's delivery of a payment, void or ACH reject (the ingress's update-with-start). The
 * validator refuses a delivery that conflicts with what the run holds (409/400) without
 * writing history; the handler records it and answers once it is settled for IC, or after
 * the `waitMs` the ingress asked for — inside the workflow, so nothing is left in flight.
 */
export const deliverUpdate = defineUpdate<DeliveryAnswer, [DeliverInput]>('deliver');
export const transactionStateQuery = defineQuery<TransactionState>('state');

// Operators: an Update answers with the outcome; its validator refuses a request in the
// wrong state without writing history. Transactions and invoice adjustments share them.
export const retryUpdate = defineUpdate<OperatorAnswer, [{ by?: string }]>('retry');
export const dismissUpdate = defineUpdate<OperatorAnswer, [DismissInput]>('dismiss');

// Alerts (workflows/alerts.ts)
export const alertRaisedSignal = defineSignal<[RaisedAlert]>('alertRaised');

// Exports (workflows/export-billing-cycle.ts)
/** An operator's decision at the approval gate (or on IC's count mismatch): an Update answered with the outcome. */
export const approveExportUpdate = defineUpdate<OperatorAnswer, [ApproveExportInput]>('approve');
export const rejectExportUpdate = defineUpdate<OperatorAnswer, [RejectExportInput]>('reject');
export const exportProgressQuery = defineQuery<ExportProgress>('progress');
export const exportSummaryQuery = defineQuery<ExportSummary>('summary');

// Invoice adjustments (workflows/invoice-adjustment.ts)
export const invoiceAdjustedSignal = defineSignal<[{ reason?: string }]>('invoiceAdjusted');
export const invoiceAdjustmentStateQuery = defineQuery<InvoiceAdjustmentState>('state');

// Balance refresh (workflows/balance-refresh.ts)
export const balanceRefreshProgressQuery = defineQuery<BalanceRefreshProgress>('progress');
