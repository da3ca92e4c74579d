/**
 * The setup of the export, balance-refresh, adjustment and IC-failure tests: a harness whose
 * alerts go to a Slack-shaped sink the test reads.
 */
import { startHarness, type Harness, type HarnessOptions } from './harness';
import { startSlackAlertSink, type SlackAlertSink } from './slack-alerts';

export async function startAlertedHarness(
  options: Omit<HarnessOptions, 'alertWebhookUrl'>,
): Promise<{ h: Harness; slack: SlackAlertSink }> {
  const slack = await startSlackAlertSink();
  const h = await startHarness({ ...options, alertWebhookUrl: slack.url });
  return { h, slack };
}

/** Stops what `startAlertedHarness` started (either may be missing when the start failed). */
export async function stopAlertedHarness(h: Harness | undefined, slack: SlackAlertSink | undefined) {
  await h?.stop();
  await slack?.close();
}
