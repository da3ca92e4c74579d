/**
 * The domain vocabulary shared by every layer: workflow IDs and search attributes,
 * statuses, the types that cross workflow boundaries, money and calendar helpers.
 * Pure and deterministic (lint: no imports but siblings and types), so workflows may use it.
 */
export * from './ids';
export * from './failures';
export * from './money';
export * from './billing-cycle';
export * from './business-day';
export * from './ach-return-window';
export * from './payment';
export * from './void-and-ach-reject';
export * from './transaction';
export * from './transaction-events';
export * from './transaction-outcomes';
export * from './alerts';
export * from './export';
export * from './adjustment';
export * from './balance-refresh';
export * from './reconcile';
export * from './task-queues';
export * from './messages';
