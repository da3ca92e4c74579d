/**
 * Alerts to a person: one Slack-compatible JSON message per run that needs attention.
 * The workflow calls this activity once per parking, so replays never resend it; the
 * idempotency key lets a receiver drop the rare duplicate of a retried delivery.
 */
import axios from 'axios';
import { ApplicationFailure } from '@temporalio/common';
import { toHttpCallError } from '../integrations/http';
import type { ActivityDeps } from './index';

export interface AlertInput {
  /** Unique per parking, e.g. `payment-T1:NEEDS_ATTENTION:1`. */
  key: string;
  title: string;
  text: string;
  uiUrl?: string;
}

export function createAlertActivities(deps: ActivityDeps) {
  return {
    async sendAlert(alert: AlertInput): Promise<{ sent: boolean }> {
      if (!deps.alertWebhookUrl) return { sent: false };
      const body = {
        text: `${alert.title}\n${alert.text}${alert.uiUrl ? `\n<${alert.uiUrl}|Open in Temporal UI>` : ''}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: alert.title } },
          { type: 'section', text: { type: 'mrkdwn', text: alert.text } },
        ],
        idempotency_key: alert.key,
      };
      try {
        await axios.post(deps.alertWebhookUrl, body, {
          timeout: 10_000,
          headers: { 'Idempotency-Key': alert.key },
        });
        deps.logger.info({ alertKey: alert.key }, 'alert sent');
        return { sent: true };
      } catch (err) {
        const e = toHttpCallError(err, 'IMT', 'POST', 'alert webhook');
        // A webhook that answers 4xx will not start accepting the same message: stop trying.
        const permanent = e.kind === 'status' && (e.status ?? 0) >= 400 && (e.status ?? 0) < 500 && e.status !== 429;
        throw ApplicationFailure.create({
          type: 'AlertDeliveryFailed',
          message: `alert webhook failed: ${e.kind}${e.status ? ` ${e.status}` : ''}`,
          nonRetryable: permanent,
        });
      }
    },
  };
}
