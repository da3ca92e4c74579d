/**
 * What the intake flows (payment.ts, void-and-ach-reject.ts, adjustment.ts) share about
 * the runs they start: their dependencies, the fingerprint that tells a repeat from a
 * conflicting delivery, and how the ingress holds IC's call for a short while — long-poll
 * the run's close event and, meanwhile, check its `PaymentStatus` search attribute with
 * describe (no worker round trip) for a status that will not change soon.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ImtClient } from '../../integrations/imt-client';
import { SA } from '../../domain';

export interface IntakeDeps {
  client: Client;
  namespace: string;
  taskQueue: string;
  /** How long to hold IC's call for the outcome before answering 202. */
  confirmWaitMs: number;
  /** How long a void / ACH reject waits for a payment not seen yet. */
  unknownPaymentWaitMs: number;
  /** For the invoice detail and PDF pass-through calls. */
  imt?: ImtClient;
  /** Base URL of the Temporal UI, for links in the status answer. */
  temporalUiUrl?: string;
}

/** Stable digest of the fields that define a delivery; stored in the run's memo. */
export function fingerprint(body: object): string {
  const canonical = JSON.stringify(
    Object.keys(body)
      .sort()
      .map((k) => [k, (body as Record<string, unknown>)[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

export type WaitResult<T> = { closed: T } | { status?: string };

export async function statusOf(handle: WorkflowHandle): Promise<string | undefined> {
  try {
    const value = (await handle.describe()).typedSearchAttributes.get(SA.PaymentStatus);
    return typeof value === 'string' ? value : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export async function waitForCloseOrStatus<T>(
  client: Client,
  handle: WorkflowHandle,
  windowMs: number,
  settled: (status: string) => boolean,
): Promise<WaitResult<T>> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), windowMs);
  const closed = client
    .withAbortSignal(abort.signal, () => handle.result() as Promise<T>)
    .then((result) => ({ closed: result }))
    .catch(() => undefined);
  try {
    // Few checks, spaced out: a healthy run closes long before the first one, and each
    // describe costs server CPU that the bench showed matters under load.
    let pollDelay = 300;
    for (;;) {
      const done = await Promise.race([closed, delay(pollDelay, abort.signal).then(() => 'tick' as const)]);
      if (done && done !== 'tick') return done;
      if (abort.signal.aborted) break;
      const status = await statusOf(handle);
      if (status !== undefined && settled(status)) return { status };
      pollDelay = Math.min(pollDelay * 2, 1000);
    }
    // The close may have raced the deadline.
    return { status: await statusOf(handle) };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    // Remove the listener when the timer fires: one is added per poll, and they would pile up.
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
