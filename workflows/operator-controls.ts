/**
 * An operator's `retry` and `dismiss` signals for a run parked in NEEDS_ATTENTION: shared by
 * the void / ACH-reject event run and its reversal.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { dismissSignal, retrySignal } from '../domain';

/** Registers the handlers; `awaitDecision` waits for a person (or `wakeOn`). */
export function operatorControls(record: (event: string, detail?: string) => void) {
  let retry = false;
  let dismissal: string | undefined;
  setHandler(retrySignal, (args) => {
    retry = true;
    record('retry requested', args?.by);
  });
  setHandler(dismissSignal, ({ reason }) => {
    dismissal = reason;
    record('dismissed', reason);
  });
  return {
    /** `wakeOn` lets a parked run resume by itself when what it waited for happens. */
    async awaitDecision(wakeOn: () => boolean = () => false): Promise<'retry' | 'dismiss' | 'woken'> {
      retry = false;
      await condition(() => retry || dismissal !== undefined || wakeOn());
      if (dismissal !== undefined) return 'dismiss';
      return retry ? 'retry' : 'woken';
    },
    get dismissal() {
      return dismissal;
    },
  };
}
