/**
 * Alerts never block a state machine (issue 9): a run that needs a person starts a small
 * delivery run (`alert-<key>`, abandoned when the parent closes) and goes on reacting to
 * signals, cancellations and retries while that run retries the webhook on its own.
 *
 * - `alertWorkflow` — delivers one alert, retrying for up to a day. Its workflow ID is the
 *   alert's key, so raising the same alert twice sends it once.
 * - `alertDigestWorkflow` — `alert-digest-<group>`: when many runs hit the same cause at
 *   once (IMT refusing our credentials), the first few alerts go out as they come and the
 *   rest become one summary at the end of the window.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isAlreadyStarted } from './failures';
import {
  bulkQueueFrom,
  workflowIds,
  type AlertDeliveryInput,
  type AlertDigestInput,
  type RaisedAlert,
  alertRaisedSignal,
} from '../domain';

const { sendAlert, forwardAlertToDigest } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // A webhook that is down for hours still gets the alert once it is back.
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** How many alerts of a group go out one by one before the rest are summarised. */
export const DIGEST_INDIVIDUAL_ALERTS = 3;
export const DIGEST_WINDOW_MS = 10 * 60 * 1000;

export async function alertWorkflow(input: AlertDeliveryInput): Promise<{ sent: boolean }> {
  const { group, ...alert } = input;
  if (group) {
    await forwardAlertToDigest(group, alert);
    return { sent: true };
  }
  return sendAlert(alert);
}

export async function alertDigestWorkflow(
  input: AlertDigestInput,
): Promise<{ sent: number; summarised: number }> {
  const pending: RaisedAlert[] = [];
  const seen = new Set<string>();
  setHandler(alertRaisedSignal, (alert) => {
    if (seen.has(alert.key)) return;
    seen.add(alert.key);
    pending.push(alert);
  });
  let sent = 0;
  const summarised: RaisedAlert[] = [];
  await condition(() => pending.length > 0);
  // The window starts with the first alert; everything within it is one incident.
  const windowMs = input.windowMs ?? DIGEST_WINDOW_MS;
  const windowOver = condition(() => false, windowMs);
  let over = false;
  void windowOver.then(() => (over = true));
  for (;;) {
    await condition(() => pending.length > 0 || over);
    while (pending.length > 0) {
      const alert = pending.shift() as RaisedAlert;
      if (sent < DIGEST_INDIVIDUAL_ALERTS) {
        await sendAlert(alert).catch(() => undefined);
        sent += 1;
      } else summarised.push(alert);
    }
    if (over && pending.length === 0) break;
  }
  if (summarised.length > 0) {
    const ids = summarised.map((a) => a.aboutWorkflowId ?? a.key);
    await sendAlert({
      key: `${workflowInfo().workflowId}:${workflowInfo().runId}:summary`,
      title: `${summarised.length} more runs: ${summarised[0].title.replace(/ [^ ]*$/, '')}…`,
      text: `${summarised.length} more runs hit the same problem within ${Math.round(windowMs / 60000)} min (group ${input.group}): ${ids
        .slice(0, 20)
        .join(', ')}${ids.length > 20 ? ', …' : ''}. ${summarised[0].text}`,
    }).catch(() => undefined);
  }
  return { sent, summarised: summarised.length };
}

/**
 * Starts the delivery of one alert and returns as soon as it is started: the caller never
 * waits for the webhook. A key already used (same alert raised again) is a no-op.
 */
export async function raiseAlert(alert: RaisedAlert, group?: string): Promise<void> {
  try {
    await startChild(alertWorkflow, {
      workflowId: workflowIds.alert(alert.key),
      // A webhook's retries belong to the bulk pool, whichever pool's run raised the alert.
      taskQueue: bulkQueueFrom(workflowInfo().taskQueue),
      args: [{ ...alert, aboutWorkflowId: alert.aboutWorkflowId ?? workflowInfo().workflowId, group }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      staticSummary: `Alert: ${alert.title}`,
    });
  } catch (err) {
    if (!isAlreadyStarted(err)) throw err;
  }
}
