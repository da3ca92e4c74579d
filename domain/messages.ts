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
import type {
  CancelPostingInput,
  DismissInput,
  EarlyEventInput,
  EarlyEventMismatch,
  PaymentArrivedInput,
  PaymentClosedInput,
  PaymentRequest,
  PaymentState,
  SettledDelivery,
} from './payment';
import type { ReversalEventState, ReversalOutcome } from './void-and-ach-reject';

// The same objects @temporalio/workflow's defineSignal / defineQuery / defineUpdate return
// (typed by @temporalio/common's public definitions). Built here so that domain/ imports no
// SDK runtime and every layer can share one set of definitions.
const defineSignal = <Args extends unknown[] = []>(name: string): SignalDefinition<Args> =>
  ({ type: 'signal', name }) as SignalDefinition<Args>;
const defineQuery = <Ret>(name: string): QueryDefinition<Ret> =>
  ({ type: 'query', name }) as QueryDefinition<Ret>;
const defineUpdate = <Ret, Args extends unknown[] = []>(name: string): UpdateDefinition<Ret, Args> =>
  ({ type: 'update', name }) as UpdateDefinition<Ret, Args>;

// Payments (workflows/payment.ts)
export const retrySignal = defineSignal<[{ by?: string }?]>('retry');
export const dismissSignal = defineSignal<[DismissInput]>('dismiss');
/** A void (or ACH reject) arrived before the payment was posted: stop posting it. */
export const cancelPostingSignal = defineSignal<[CancelPostingInput]>('cancelPosting');
/** An early void / ACH reject does not match the payment: park it for a person. */
export const earlyEventMismatchSignal = defineSignal<[EarlyEventMismatch]>('earlyEventMismatch');
/** Sent by the payment run to every void / ACH reject waiting on it, when it closes. */
export const paymentClosedSignal = defineSignal<[PaymentClosedInput]>('paymentClosed');
export const paymentStateQuery = defineQuery<PaymentState>('state');
/**
 * The ingress's one round trip (update-with-start): delivers IC's payment and returns
 * once the posting is settled for IC's answer — POSTED (201), parked (400 when IMT refused
 * it), or closed otherwise. The validator refuses a delivery whose content differs from
 * the run's payment (409), so a conflicting repeat leaves nothing in history.
 */
export const paymentSettledUpdate = defineUpdate<PaymentState, [PaymentRequest, SettledDelivery?]>('settled');
/**
 * An event (void / ACH reject) came before its payment: sent with signal-with-start to
 * `payment-<txid>`, which starts `awaitedPaymentWorkflow` there (or, in a race, reaches the
 * payment run that just started, which only records it: the event then finds that run itself).
 */
export const earlyEventSignal = defineSignal<[EarlyEventInput]>('earlyEvent');

// Alerts (workflows/alerts.ts)
export const alertRaisedSignal = defineSignal<[RaisedAlert]>('alertRaised');

// Voids and ACH rejects (workflows/void-and-ach-reject.ts)
/**
 * Sent by the payment run (runs before issue 9: by the ingress, without arguments) to a
 * waiting void / ACH reject when its payment arrives.
 */
export const paymentArrivedSignal = defineSignal<[PaymentArrivedInput?]>('paymentArrived');
/** Every run of a transaction answers the `state` query (the status call and CLI rely on it). */
export const reversalEventStateQuery = defineQuery<ReversalEventState>('state');
export const reversalStateQuery = defineQuery<ReversalOutcome>('state');

// Exports (workflows/export-billing-cycle.ts)
export const approveExportSignal = defineSignal<[ApproveExportInput?]>('approve');
export const rejectExportSignal = defineSignal<[RejectExportInput]>('reject');
export const exportProgressQuery = defineQuery<ExportProgress>('progress');
export const exportSummaryQuery = defineQuery<ExportSummary>('summary');

// Invoice adjustments (workflows/invoice-adjustment.ts)
export const invoiceAdjustedSignal = defineSignal<[{ reason?: string }]>('invoiceAdjusted');
export const invoiceAdjustmentStateQuery = defineQuery<InvoiceAdjustmentState>('state');

// Balance refresh (workflows/balance-refresh.ts)
export const balanceRefreshProgressQuery = defineQuery<BalanceRefreshProgress>('progress');
