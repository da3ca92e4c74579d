/**
 * An Update whose workflow task failed for a reason of its own (typically Temporal's
 * "unhandled command": an event such as an alert run's completion arrived while the run was
 * completing) is refused with FAILED_PRECONDITION "unexpected workflow task failure" and was
 * not applied: sending it again is safe, and what Temporal expects of the caller. Refusals by
 * the run's validator (WorkflowUpdateFailedError) are answers, never retried.
 */
const WORKFLOW_TASK_FAILED = /unexpected workflow task failure/i;
const ATTEMPTS = 4;

export async function withUpdateRetry<T>(send: () => Promise<T>, pauseMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= ATTEMPTS || !taskFailed(err)) throw err;
      await new Promise((r) => setTimeout(r, pauseMs * attempt));
    }
  }
}

function taskFailed(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause)
    if (WORKFLOW_TASK_FAILED.test(e.message)) return true;
  return false;
}
