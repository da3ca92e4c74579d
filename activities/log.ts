/**
 * Activity log lines carry the workflow ID and run ID of the run they work for, so a log
 * search for `payment-<transaction_id>` finds the IMT calls next to the workflow in the
 * Temporal UI. (The SDK's `Context.current().log` does the same but writes through the
 * SDK runtime's logger; the service logs through pino, whose redaction we rely on.)
 */
import { Context } from '@temporalio/activity';
import type { Logger } from '../common/logger';

export function activityLogger(base: Logger): Logger {
  let info;
  try {
    info = Context.current().info;
  } catch {
    // Called outside an activity (e.g. a unit test invoking the function directly).
    return base;
  }
  return base.child({
    workflowId: info.workflowExecution?.workflowId,
    runId: info.workflowExecution?.runId,
    activity: info.activityType,
    attempt: info.attempt,
  });
}
