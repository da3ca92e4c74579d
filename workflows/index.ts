// The workflow bundle entry: re-exports only.
export { transactionWorkflow } from './transaction';
export { exportBillingCycleWorkflow, scheduledExportWorkflow } from './export-billing-cycle';
export { invoiceAdjustmentWorkflow } from './invoice-adjustment';
export { alertWorkflow, alertDigestWorkflow } from './alerts';
export { balanceRefreshWorkflow } from './balance-refresh';
export { reconcileWorkflow, scheduledReconcileWorkflow } from './reconcile';
