/**
 * One attempt of a call that changes money in IMT (posting, reversal): bounded so that a
 * timeout is always classified by us, and heartbeating while slow.
 */
import { Context } from '@temporalio/activity';

/** Heartbeat only once an attempt is slow, so a quick one costs no extra call to Temporal. */
const HEARTBEAT_AFTER_MS = 3_000;
/** The HTTP call must give up this long before the activity's start-to-close. */
const DEADLINE_MARGIN_MS = 3_000;

/**
 * The abort signal of one IMT call: the activity's cancellation, plus a deadline that ends
 * the HTTP call before the activity's start-to-close — so a timeout is always *our*
 * AmbiguousTimeout (classified, outcome unknown), never a lost attempt. Meanwhile a slow
 * call heartbeats, so a worker that dies mid-call is noticed within the heartbeat timeout.
 */
export function boundedAttempt(): { signal: AbortSignal; done(): void } {
  const ctx = Context.current();
  const budget = ctx.info.startToCloseTimeoutMs - DEADLINE_MARGIN_MS;
  const signals = [ctx.cancellationSignal];
  if (budget > 0) signals.push(AbortSignal.timeout(budget));
  let beat: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    ctx.heartbeat();
    beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_AFTER_MS);
  }, HEARTBEAT_AFTER_MS);
  return {
    signal: AbortSignal.any(signals),
    done: () => {
      clearTimeout(start);
      if (beat) clearInterval(beat);
    },
  };
}
