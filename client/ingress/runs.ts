/**
 * What the intake flows (payment.ts, adjustment.ts, status.ts) share: their dependencies,
 * and the fingerprint that tells a repeat from a conflicting delivery.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { TransactionTiming } from '../../domain';
import type { ImtClient } from '../../integrations/imt-client';

export interface IntakeDeps {
  client: Client;
  namespace: string;
  taskQueue: string;
  /** How long to hold IC's call for the outcome before answering 202. */
  confirmWaitMs: number;
  /** The transaction run's waits (tests shorten them; production uses the domain defaults). */
  timing?: Partial<TransactionTiming>;
  /** For the invoice detail and PDF pass-through calls. */
  imt?: ImtClient;
  /** Base URL of the Temporal UI, for links in the status answer. */
  temporalUiUrl?: string;
}

/** Stable digest of the fields that define a delivery; stored in the run's memo. */
export function fingerprint(body: object): string {
  const canonical = JSON.stringify(body, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : value,
  );
  return createHash('sha256').update(canonical).digest('hex');
}
