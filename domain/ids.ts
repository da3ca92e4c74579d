/**
 * Business keys and search attributes. Workflow IDs are business keys: Temporal rejects a
 * second start with the same ID, which is what deduplicates IC's redeliveries.
 */
import type { defineSearchAttributeKey } from '@temporalio/common';

/** @temporalio/common's key type, named through its public entry point. */
type SearchAttributeKey<T extends 'KEYWORD' | 'DATETIME'> = ReturnType<typeof defineSearchAttributeKey<T>>;

/** Same as @temporalio/common's defineSearchAttributeKey, which sandboxed code may not import. */
const keyword = (name: string): SearchAttributeKey<'KEYWORD'> => ({ name, type: 'KEYWORD' });

/** Registered on the dev server by dev/temporal-server.ts and on the cluster by dev/namespace.ts. */
export const SA = {
  TransactionId: keyword('TransactionId'),
  InvoiceNumber: keyword('InvoiceNumber'),
  CustomerId: keyword('CustomerId'),
  PaymentStatus: keyword('PaymentStatus'),
  BillingCycle: keyword('BillingCycle'),
  ExportStatus: keyword('ExportStatus'),
} as const;

/** Set by Temporal on every workflow a Schedule starts: the time the action was due. */
export const SCHEDULED_START_TIME: SearchAttributeKey<'DATETIME'> = {
  name: 'TemporalScheduledStartTime',
  type: 'DATETIME',
};

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);

export const workflowIds = {
  payment: (transactionId: string) => `payment-${transactionId}`,
  void: (transactionId: string) => `void-${transactionId}`,
  achReject: (transactionId: string) => `ach-reject-${transactionId}`,
  /** The single reversal of a transaction: whichever event starts it first owns it. */
  reversal: (transactionId: string) => `reversal-${transactionId}`,
  /** One alert delivery (alertWorkflow); the key makes a repeated alert a no-op. */
  alert: (key: string) => `alert-${key}`,
  /**
   * Collects alerts of one kind from many runs into one summary (alertDigestWorkflow). Per
   * task queue, so that two deployments (or test files) sharing a namespace never share one.
   */
  alertDigest: (group: string, taskQueue: string) => `alert-digest-${group}-${taskQueue}`,
  export: (cycle: string) => `export-${cycle}`,
};

// ---------------------------------------------------------------------------
