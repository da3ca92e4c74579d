// The workflow bundle entry: re-exports only.
export { paymentWorkflow } from './payment';
export { reversalEventWorkflow, reversalWorkflow } from './reversal';
