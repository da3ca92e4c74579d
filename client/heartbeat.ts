/**
 * The last heartbeat details of a workflow's running activities, decoded through the
 * client's codecs (heartbeat details are encrypted like every payload). Long activities
 * (an export's extraction, a day's reconciliation) report their progress this way, which
 * costs no history events; the CLI reads it back to draw progress.
 */
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';

export interface PendingActivityLike {
  activityType?: { name?: string | null } | null;
  heartbeatDetails?: { payloads?: unknown[] | null } | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null; encodedAttributes?: unknown } | null;
}

/** The first heartbeat detail of `activity`, or undefined when it has none or it cannot be decoded. */
export async function heartbeatDetailsOf(client: Client, activity: PendingActivityLike): Promise<unknown> {
  const payloads = activity.heartbeatDetails?.payloads;
  if (!payloads?.length) return undefined;
  try {
    const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
    let decoded = payloads as Payload[];
    for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return payloadConverter.fromPayload(decoded[0]!);
  } catch {
    return undefined;
  }
}
