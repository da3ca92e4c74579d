/**
 * `invoice-adjusted-<invoice_number>`: sends an invoice's new balance to IC after IMT
 * reports a change, and checks that IC shows it.
 *
 * IMT may report several changes in a row: they are signals to one running workflow
 * (signal-with-start by the ingress). The run waits for a quiet moment (`quietMs`, at most
 * `maxCollectingMs` while changes keep coming; ADJUSTMENT_TIMING) and then sends IMT's
 * *current* balance once, so a burst becomes one upload and the last change always wins.
 * Idle for `idleMs` it ends; past `maxHistoryEvents` it continues as new between rounds,
 * carrying its state and any change no round has covered yet.
 *
 * After the upload it asks IC (ViewInvoiceByInvoiceNumber) until IC shows the same balance
 * and past-due amount (IC loads files asynchronously; the activity re-asks on its own). If
 * IC still disagrees the run parks in NEEDS_ATTENTION with one alert and waits for the Update
 * `retry` (send and check again), `dismiss`, or a new change; each Update's validator refuses
 * it in any other state without writing history. IC refusing our credentials alerts once and
 * is retried slowly until fixed. A run that fails alerts. The decisions are pure functions
 * in domain/adjustment.ts.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions, RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import { callIcAlertingOnAuth } from './ic-calls';
import { failureMessageOf, failureTypeOf } from './failures';
import {
  ADJUSTMENT_TIMING,
  AdjustmentStatus,
  FailureType,
  adjustmentFailedAlert,
  afterParked,
  authRejectedAlert,
  carryAdjustment,
  collectingWaitMs,
  hasWork,
  judgeRound,
  newAdjustment,
  nextAdjustmentStep,
  parkedWoken,
  recordRound,
  refuseAdjustmentOperator,
  roundCollects,
  takeChange,
  type AdjustmentAlert,
  type AdjustmentCarry,
  type AdjustmentInbox,
  type AdjustmentOperatorAction,
  type AdjustmentRunOptions,
  type AdjustmentTiming,
  type InvoiceAdjustmentState,
  type OperatorAnswer,
  dismissUpdate,
  invoiceAdjustedSignal,
  invoiceAdjustmentStateQuery,
  retryUpdate,
} from '../domain';

export type { InvoiceAdjustmentState } from '../domain';

const SYNC_RETRY: RetryPolicy = {
  initialInterval: '2 seconds',
  maximumInterval: '2 minutes',
};
const SYNC_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  scheduleToCloseTimeout: '6 hours',
  retry: SYNC_RETRY,
};

const { syncInvoiceBalance: syncUntilAuthRejected, checkIcBalance: checkUntilAuthRejected } =
  proxyActivities<Activities>({
    ...SYNC_OPTIONS,
    // The check re-asks IC inside the activity (minutes by default).
    startToCloseTimeout: '1 hour',
    retry: {
      ...SYNC_RETRY,
      nonRetryableErrorTypes: [FailureType.AuthRejected],
    },
  });
const { syncInvoiceBalance: syncUntilCredentialsFixed, checkIcBalance: checkUntilCredentialsFixed } =
  proxyActivities<Activities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '1 minute',
    retry: SYNC_RETRY,
  });

export async function invoiceAdjustmentWorkflow(
  invoiceNumber: string,
  options: AdjustmentRunOptions = {},
): Promise<InvoiceAdjustmentState> {
  const run = new AdjustmentRun(invoiceNumber, { ...ADJUSTMENT_TIMING, ...options.timing }, options.carried);
  const next = await run.rounds();
  if (next === 'continue-as-new') {
    // Handlers first; a change not yet covered by a round goes with the state.
    await condition(allHandlersFinished);
    await continueAsNew<typeof invoiceAdjustmentWorkflow>(invoiceNumber, {
      carried: run.carry(),
      timing: options.timing,
    });
  }
  return run.state;
}

class AdjustmentRun {
  readonly state: InvoiceAdjustmentState;
  private readonly inbox: AdjustmentInbox;
  /** Rounds ended (verified or parked): what a `retry` Update waits for. */
  private ended = 0;

  constructor(
    private readonly invoiceNumber: string,
    private readonly timing: AdjustmentTiming,
    carried?: AdjustmentCarry,
  ) {
    ({ state: this.state, inbox: this.inbox } = newAdjustment(invoiceNumber, carried));
    setHandler(invoiceAdjustedSignal, ({ reason }) => takeChange(this.state, this.inbox, reason));
    setHandler(invoiceAdjustmentStateQuery, () => this.state);
    const validator = (a: AdjustmentOperatorAction) => {
      const refusal = refuseAdjustmentOperator(this.state, this.inbox, a);
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'WrongState');
    };
    setHandler(retryUpdate, () => this.retry(), {
      validator: (a) => validator({ action: 'retry', by: a?.by }),
    });
    setHandler(dismissUpdate, (a) => this.dismiss(a.reason, a.by), {
      validator: (a) => validator({ action: 'dismiss', ...a }),
    });
  }

  carry(): AdjustmentCarry {
    return carryAdjustment(this.state, this.inbox);
  }

  /** Rounds until the run ends (idle, dismissed) or its history is long: collect → sync → verify. */
  async rounds(): Promise<'ended' | 'continue-as-new'> {
    try {
      for (;;) {
        const woken = await condition(() => hasWork(this.inbox), this.timing.idleMs);
        const { historyLength, continueAsNewSuggested } = workflowInfo();
        const step = nextAdjustmentStep(
          this.inbox,
          woken,
          { length: historyLength, continueAsNewSuggested },
          this.timing,
        );
        if (step === 'continue-as-new') return step;
        if (step === 'end' && (await this.closing())) return 'ended';
        if (step === 'round' && (await this.round()) === 'dismissed') {
          await condition(allHandlersFinished);
          return 'ended';
        }
      }
    } catch (err) {
      if (!isCancellation(err)) await this.alertFailure(err);
      throw err;
    }
  }

  private async round(): Promise<'verified' | 'retry' | 'dismissed'> {
    if (roundCollects(this.inbox)) await this.collect();
    this.inbox.retry = false;
    this.inbox.handled = this.inbox.changes;
    this.show(AdjustmentStatus.SYNCING);
    const roundKey = `${workflowInfo().runId.replace(/-/g, '')}-${this.state.syncs.length + 1}`;
    const onAuth = (message: string) => this.authRejected(message);
    const sync = await callIcAlertingOnAuth(
      () => syncUntilAuthRejected(this.invoiceNumber, roundKey),
      () => syncUntilCredentialsFixed(this.invoiceNumber, roundKey),
      onAuth,
    );
    this.show(AdjustmentStatus.VERIFYING, `balance ${sync.balanceDue}, past due ${sync.pastDue}`);
    const check = await callIcAlertingOnAuth(
      () => checkUntilAuthRejected(sync),
      () => checkUntilCredentialsFixed(sync),
      onAuth,
    );
    recordRound(this.state, sync, check);
    const verdict = judgeRound(this.invoiceNumber, sync, check);
    this.state.lastError = verdict.status === AdjustmentStatus.VERIFIED ? undefined : verdict.error;
    this.show(verdict.status, verdict.detail);
    this.ended += 1;
    if (verdict.status === AdjustmentStatus.VERIFIED) return 'verified';
    // One alert per parking (a later round that parks again alerts again).
    await this.alert(verdict.alert, `${this.ended}`);
    await condition(() => parkedWoken(this.inbox));
    const next = afterParked(this.state, this.inbox);
    if (next === 'dismissed') this.show(AdjustmentStatus.DISMISSED, this.state.closingReason);
    return next;
  }

  /** Waits for a quiet moment, so a burst of changes becomes one update. */
  private async collect(): Promise<void> {
    this.show(AdjustmentStatus.COLLECTING);
    const since = Date.now();
    for (;;) {
      const seen = this.inbox.changes;
      const waitMs = collectingWaitMs(since, Date.now(), this.timing);
      if (waitMs === 0 || !(await condition(() => this.inbox.changes !== seen, waitMs))) return;
    }
  }

  /** The `retry` Update: answers with the outcome of the round it asked for (or after a wait). */
  private async retry(): Promise<OperatorAnswer> {
    this.inbox.retry = true;
    const ended = this.ended;
    await condition(() => this.ended > ended, this.timing.operatorWaitMs);
    return this.answer();
  }

  private async dismiss(reason: string, by?: string): Promise<OperatorAnswer> {
    this.inbox.dismissal = { reason, by };
    await condition(() => this.state.status === AdjustmentStatus.DISMISSED);
    return this.answer();
  }

  private answer(): OperatorAnswer {
    const s = this.state;
    const detail = s.status === AdjustmentStatus.DISMISSED ? s.closingReason : s.lastError?.message;
    return { workflowId: workflowInfo().workflowId, status: s.status ?? 'UNKNOWN', detail };
  }

  /** True when the run may end now: no handler is running and no change came meanwhile. */
  private async closing(): Promise<boolean> {
    await condition(allHandlersFinished);
    return !hasWork(this.inbox);
  }

  private show(status: AdjustmentStatus, detail?: string): void {
    this.state.status = status;
    setCurrentDetails(`**${status}** · invoice ${this.invoiceNumber}${detail ? `\n\n${detail}` : ''}`);
  }

  private async authRejected(message: string): Promise<void> {
    this.show(AdjustmentStatus.AUTH_REJECTED, message);
    this.state.lastError = { type: FailureType.AuthRejected, message };
    await this.alert(authRejectedAlert(this.invoiceNumber, message));
  }

  private async alertFailure(err: unknown): Promise<void> {
    const type = failureTypeOf(err) ?? 'Error';
    const message = failureMessageOf(err);
    this.state.lastError = { type, message };
    await this.alert(adjustmentFailedAlert(this.invoiceNumber, type, message));
  }

  // Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts).
  private async alert({ title, text }: AdjustmentAlert, round = ''): Promise<void> {
    const { workflowId, runId } = workflowInfo();
    await raiseAlert({
      key: `${workflowId}:${runId}:${this.state.status}${round && `:${round}`}`,
      title,
      text,
    });
  }
}
