/**
 * One run per IC transaction, ID `payment-<transaction_id>`: it takes every event of the
 * transaction — the payment, a void, an ACH reject, and each redelivery — in the order it
 * receives them, posts the payment to IMT, reverses it when asked, and stays open, asleep on
 * a durable timer, while a void or an ACH reject can still come. No other run exists for the
 * transaction, so there is nobody to signal, look up or wait for.
 *
 * Every decision (this state + this event or outcome → what next) is a pure function in
 * domain/transaction.ts; this file only carries them out: the update and query handlers, the
 * calls to IMT, the waits, the alert, the status shown in the Temporal UI.
 *
 * A transaction whose run has closed (completed, terminated, cancelled) gets a new run under
 * the same ID when an event comes (`reopened`): it reads IMT's record of the transaction first
 * (contracts C4) and never acts on memory alone.
 */
import {
  CancellationScope,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import { describeFailure } from './failures';
import {
  DEFAULT_TIMING,
  IMT_ATTEMPT_TIMEOUT_MS,
  PaymentStatus,
  SA,
  afterCheck,
  afterPosting,
  afterReversal,
  applyOperator,
  deliveryAnswer,
  nextStep,
  refuseDelivery,
  refuseOperator,
  reversalRequest,
  settledFor,
  startingState,
  statusOf,
  takeDelivery,
  type AttemptFailure,
  type CallOutcome,
  type CheckOutcome,
  type Delivery,
  type DismissInput,
  type OperatorAction,
  type OperatorAnswer,
  type Step,
  type TransactionInput,
  type TransactionMemo,
  type TransactionState,
  type TransactionTiming,
  deliverUpdate,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
} from '../domain';

const { postPayment, reversePayment } = proxyActivities<Activities>({
  // Longer than the longest IMT timeout by construction; a dead worker is noticed by the
  // heartbeat timeout (the activity heartbeats only while a request is slow).
  startToCloseTimeout: IMT_ATTEMPT_TIMEOUT_MS,
  heartbeatTimeout: '15 seconds',
  // One attempt per call: the run owns retries, so that an event arriving between attempts
  // changes what the next one is, and the state shows every attempt.
  retry: { maximumAttempts: 1 },
});
const { findImtTransaction } = proxyActivities<Activities>({
  startToCloseTimeout: IMT_ATTEMPT_TIMEOUT_MS,
  // A read: safe to repeat; a few quick tries, then the run's own backoff (domain afterCheck).
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

/** How long an operator's update waits for the run to move after a retry. */
const OPERATOR_WAIT_MS = 10_000;
/** Statuses of a call to IMT still under way: a retry's answer waits past them. */
const IN_PROGRESS = new Set<string>([
  PaymentStatus.POSTING,
  PaymentStatus.MAYBE_POSTED,
  PaymentStatus.REVERSING,
]);

export async function transactionWorkflow(input: TransactionInput): Promise<TransactionState> {
  const timing: TransactionTiming = { ...DEFAULT_TIMING, ...input.timing };
  // The starter's delivery is taken before the handlers see any update (TransactionInput.first).
  const run = new TransactionRun(input.carried ?? startingState(input, new Date().toISOString()), timing);
  try {
    for (;;) {
      run.show();
      if (
        workflowInfo().continueAsNewSuggested ||
        workflowInfo().historyLength > timing.continueAfterEvents
      ) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof transactionWorkflow>({ ...input, first: undefined, carried: run.state });
      }
      // Only awaited when there is an alert to raise: an extra await would reorder commands on replay.
      if (run.parkingToAlert()) await run.alertParking();
      const step = nextStep(run.state, Date.now(), timing);
      if (step.kind === 'complete' && (await run.closing())) break;
      if (step.kind !== 'complete') await run.perform(step);
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => run.alertCancelled());
    throw err;
  }
  return run.state;
}

class TransactionRun {
  /** Bumped by every delivery and operator action: what a wait wakes up for. */
  private changes = 0;
  private parkings = 0;

  constructor(
    readonly state: TransactionState,
    private readonly timing: TransactionTiming,
  ) {
    setHandler(transactionStateQuery, () => this.state);
    setHandler(
      deliverUpdate,
      ({ delivery, waitMs, fingerprint }) => this.deliver(delivery, waitMs, fingerprint),
      {
        validator: ({ delivery }) => {
          const refusal = refuseDelivery(this.state, delivery);
          if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
        },
      },
    );
    const operator = (action: OperatorAction) => this.operate(action);
    const validator = (action: OperatorAction) => {
      const refusal = refuseOperator(this.state, action);
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'WrongState');
    };
    setHandler(retryUpdate, (a) => operator({ action: 'retry', by: a?.by }), {
      validator: (a) => validator({ action: 'retry', by: a?.by }),
    });
    setHandler(dismissUpdate, (a: DismissInput) => operator({ action: 'dismiss', ...a }), {
      validator: (a: DismissInput) => validator({ action: 'dismiss', ...a }),
    });
  }

  private async deliver(delivery: Delivery, waitMs: number, fingerprint?: string) {
    if (takeDelivery(this.state, delivery, new Date().toISOString())) {
      this.changes += 1;
      this.rememberDelivery(delivery, fingerprint);
    }
    // The wait ends here, inside the run, after what the ingress asked for: never left in flight.
    await condition(() => settledFor(delivery.kind, this.state), Math.max(1, waitMs));
    return deliveryAnswer(delivery.kind, this.state);
  }

  /** What the ingress reads without a worker (describe) to answer a conflicting delivery 409. */
  private rememberDelivery(delivery: Delivery, fingerprint?: string): void {
    const memo: TransactionMemo = workflowInfo().memo ?? {};
    const add: TransactionMemo = {};
    if (fingerprint && memo[delivery.kind] === undefined) add[delivery.kind] = fingerprint;
    if (delivery.kind === 'payment' && memo.amount === undefined) {
      add.amount = delivery.payment.amount;
      add.payment_method = delivery.payment.payment_method;
    }
    // Only when something is new: the ingress's start already carries the first delivery's.
    if (Object.keys(add).length) upsertMemo({ ...add });
  }

  private async operate(action: OperatorAction): Promise<OperatorAnswer> {
    applyOperator(this.state, action, Date.now());
    this.changes += 1;
    this.show();
    // The answer is the outcome: wait (bounded) until the run is past the call it retries.
    if (action.action === 'retry')
      await condition(() => !IN_PROGRESS.has(statusOf(this.state)), OPERATOR_WAIT_MS);
    return {
      workflowId: workflowInfo().workflowId,
      status: statusOf(this.state),
      detail: this.state.parked?.reason,
    };
  }

  async perform(step: Exclude<Step, { kind: 'complete' }>): Promise<void> {
    const now = () => Date.now();
    switch (step.kind) {
      case 'post':
        return afterPosting(this.state, await attempt(() => postPayment(this.state.payment!)), now());
      case 'reverse':
        return afterReversal(
          this.state,
          await attempt(() => reversePayment(reversalRequest(this.state))),
          now(),
        );
      case 'check':
        return afterCheck(this.state, await this.readImtRecord(), now(), this.timing);
      case 'park':
        return this.park(step.reason, step.imtMayHold, step.clearsOnPayment);
      case 'wait': {
        const seen = this.changes;
        const woken = () => this.changes !== seen;
        if (step.until === undefined) await condition(woken);
        else await condition(woken, Math.max(1, step.until - now()));
      }
    }
  }

  private async readImtRecord(): Promise<CheckOutcome> {
    const s = this.state;
    // A reopened run cannot know when the payment was posted: a year back is the widest return window by far.
    const since = s.reopened ? new Date(Date.parse(s.since) - 400 * 24 * 3600 * 1000).toISOString() : s.since;
    try {
      const found = await findImtTransaction({ transactionId: s.transactionId, postedSince: since });
      return found ? { found } : { absent: true };
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { failed: describeFailure(err).error };
    }
  }

  private park(reason: string, imtMayHold: boolean, clearsOnPayment?: boolean): Promise<void> {
    this.state.parked = { reason, imtMayHold, since: new Date().toISOString(), clearsOnPayment };
    return this.alertParking();
  }

  parkingToAlert(): boolean {
    return this.state.parked !== undefined && !this.state.parked.alerted;
  }

  /** One alert per parking, whichever decision parked the run (a step, or an IMT outcome). */
  async alertParking(): Promise<void> {
    const s = this.state;
    const parked = s.parked;
    if (!parked || parked.alerted) return;
    parked.alerted = true;
    this.parkings += 1;
    this.show();
    const { workflowId, runId } = workflowInfo();
    await raiseAlert({
      key: `${workflowId}:${runId}:parked:${this.parkings}`,
      title: `Transaction ${s.transactionId} needs attention${parked.imtMayHold ? ' — IMT MAY HOLD it' : ''}`,
      text: `${parked.reason}. Invoice ${s.payment?.invoice_number ?? '?'}. Then \`imt-ic payments retry ${s.transactionId}\` or \`imt-ic payments dismiss ${s.transactionId} --reason …\`.`,
    });
  }

  /** True when the run may close now: no handler is running and nothing new came meanwhile. */
  async closing(): Promise<boolean> {
    const seen = this.changes;
    await condition(allHandlersFinished);
    return this.changes === seen;
  }

  async alertCancelled(): Promise<void> {
    const s = this.state;
    const mayHold = s.posting.holds !== 'NO' && s.reversal.holds !== 'YES';
    await raiseAlert({
      key: `${workflowInfo().workflowId}:${workflowInfo().runId}:cancelled`,
      title: `Transaction ${s.transactionId} was cancelled while ${statusOf(s)}`,
      text: `An operator cancelled the run of transaction ${s.transactionId}.${mayHold ? ' IMT MAY HOLD the payment.' : ''} A redelivery of any of its events reads IMT's record and goes on from there.`,
    });
  }

  /** Status search attribute (only when it changes) and the Temporal UI's current details. */
  show(): void {
    const s = this.state;
    const status = statusOf(s);
    s.status = status;
    const shown = workflowInfo().typedSearchAttributes.get(SA.PaymentStatus);
    if (shown !== status) upsertSearchAttributes([{ key: SA.PaymentStatus, value: status }]);
    const lines = [
      `**${status}** · posting attempts ${s.posting.attempts} · IMT holds it: ${s.posting.holds}`,
    ];
    if (s.reversalKind) lines.push(`Reversal (${s.reversalKind}): IMT holds it: ${s.reversal.holds}`);
    if (s.lastError) lines.push(`Last error (${s.lastError.type}): ${s.lastError.message}`);
    if (s.parked)
      lines.push(
        `Needs a person: ${s.parked.reason}`,
        'Update `retry`, or `dismiss` with `{"reason": "…"}`.',
      );
    setCurrentDetails(lines.join('\n\n'));
  }
}

/** One call to IMT: its result, or the failure as the domain reads it. */
async function attempt<T>(call: () => Promise<T>): Promise<CallOutcome<T>> {
  try {
    return { ok: await call() };
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { failed: readFailure(err) };
  }
}

function readFailure(err: unknown): AttemptFailure {
  const f = describeFailure(err);
  return {
    permanent: f.permanent,
    outcomeUnknown: f.outcomeUnknown,
    definiteRejection: f.definiteRejection,
    nextRetryDelayMs: f.nextRetryDelayMs,
    oneOff: f.serviceAnswering === true || f.withinRetryBudget === true,
    error: f.error,
  };
}
