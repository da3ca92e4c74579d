// The workflow bundle entry: re-exports only.
export { paymentWorkflow } from './payment';
export { awaitedPaymentWorkflow } from './awaited-payment';
export { reversalEventWorkflow, reversalWorkflow } from './void-and-ach-reject';
export { exportBillingCycleWorkflow, scheduledExportWorkflow } from './export-billing-cycle';
export { invoiceAdjustmentWorkflow } from './invoice-adjustment';
export { alertWorkflow, alertDigestWorkflow } from './alerts';
export { balanceRefreshWorkflow } from './balance-refresh';
export { reconcileWorkflow, scheduledReconcileWorkflow } from './reconcile';
