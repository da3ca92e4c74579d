/**
 * Alerts to a person: one Slack-compatible JSON message per run that needs attention.
 *
 * Exactly once per parking, by construction rather than by bookkeeping:
 * - the workflow calls this activity once each time it parks; once the activity has
 *   completed, its result is in the workflow history, so a replay (a worker restart, a
 *   query on an evicted run) reads the result from history and never runs it again;
 * - the activity is retried only while delivery fails (5xx, 429, network); a 4xx from the
 *   webhook will not start accepting the same message, so it stops there;
 * - the idempotency key (header and body field) lets a receiver drop the rare duplicate
 *   of an attempt whose answer was lost (the webhook got it, the worker died before
 *   reporting completion).
 *
 * Nothing is sent — and nothing retried — when ALERT_WEBHOOK_URL is not configured.
 * The message carries the transaction ID, amount and invoice number (what an operator
 * needs to find the run) and never a credential.
 */
import axios from 'axios';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { toHttpCallError } from '../integrations/http';
import { workflowUiUrl } from '../common/ui';
import type { ActivityDeps } from './deps';
import { activityLogger } from './log';
import { bulkQueueFrom, paymentsQueueFrom, workflowIds, alertRaisedSignal } from '../domain';

export interface AlertInput {
  /** Unique per parking, e.g. `payment-T1:NEEDS_ATTENTION:1`. */
  key: string;
  title: string;
  text: string;
  /** Link to the run; by default the calling workflow's page in the Temporal UI (when its URL is known). */
  uiUrl?: string;
  /** The run the alert is about, when the caller is an alert-delivery workflow rather than that run. */
  aboutWorkflowId?: string;
}

/** The webhook body: `text` is what Slack (and most chat webhooks) show; `blocks` is Slack's richer layout. */
export interface AlertMessage {
  text: string;
  blocks: unknown[];
  idempotency_key: string;
}

export function buildAlertMessage(alert: AlertInput): AlertMessage {
  const link = alert.uiUrl ? `\n<${alert.uiUrl}|Open in Temporal UI>` : '';
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: alert.title } },
    { type: 'section', text: { type: 'mrkdwn', text: alert.text } },
  ];
  if (alert.uiUrl)
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${alert.uiUrl}|Open in Temporal UI>` } });
  return { text: `${alert.title}\n${alert.text}${link}`, blocks, idempotency_key: alert.key };
}

function callerUiUrl(deps: ActivityDeps, aboutWorkflowId?: string): string | undefined {
  try {
    const { workflowNamespace, workflowExecution } = Context.current().info;
    if (!workflowNamespace || !workflowExecution) return undefined;
    return workflowUiUrl(
      deps.temporalUiUrl,
      workflowNamespace,
      aboutWorkflowId ?? workflowExecution.workflowId,
    );
  } catch {
    return undefined;
  }
}

export function createAlertActivities(deps: ActivityDeps) {
  return {
    /**
     * Hands one alert to the digest of its group (signal-with-start of
     * `alert-digest-<group>`), which sends the first few alone and the rest as one summary.
     */
    async forwardAlertToDigest(group: string, alert: AlertInput): Promise<void> {
      if (!deps.temporalClient)
        throw ApplicationFailure.nonRetryable('worker has no Temporal client configured', 'ConfigError');
      // Runs on the bulk pool; the digest's ID names the service's queue (one per deployment).
      const { taskQueue } = Context.current().info;
      await deps.temporalClient.workflow.signalWithStart('alertDigestWorkflow', {
        workflowId: workflowIds.alertDigest(group, paymentsQueueFrom(taskQueue)),
        taskQueue: bulkQueueFrom(taskQueue),
        args: [{ group, windowMs: deps.alertDigestWindowMs }],
        signal: alertRaisedSignal,
        signalArgs: [alert],
      });
    },

    async sendAlert(alert: AlertInput): Promise<{ sent: boolean }> {
      const log = activityLogger(deps.logger);
      if (!deps.alertWebhookUrl) {
        log.debug({ alertKey: alert.key }, 'no ALERT_WEBHOOK_URL configured: alert not sent');
        return { sent: false };
      }
      const body = buildAlertMessage({
        ...alert,
        uiUrl: alert.uiUrl ?? callerUiUrl(deps, alert.aboutWorkflowId),
      });
      try {
        await axios.post(deps.alertWebhookUrl, body, {
          timeout: 10_000,
          headers: { 'Idempotency-Key': alert.key },
        });
        log.info({ alertKey: alert.key }, 'alert sent');
        return { sent: true };
      } catch (err) {
        const e = toHttpCallError(err, 'webhook', 'POST', 'alert webhook');
        // A webhook that answers 4xx will not start accepting the same message: stop trying.
        const permanent =
          e.kind === 'status' && (e.status ?? 0) >= 400 && (e.status ?? 0) < 500 && e.status !== 429;
        log.warn({ alertKey: alert.key, kind: e.kind, status: e.status, permanent }, 'alert delivery failed');
        throw ApplicationFailure.create({
          type: 'AlertDeliveryFailed',
          // The webhook URL itself can be a secret (Slack's carry a token): never put it in the message.
          message: `alert webhook failed: ${e.kind}${e.status ? ` ${e.status}` : ''}`,
          nonRetryable: permanent,
        });
      }
    },
  };
}
