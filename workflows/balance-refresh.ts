/**
 * `balances-refresh-<cycle>` (`imt-ic balances refresh --cycle C`): compares IMT's balance
 * of every invoice of a cycle with IC's, sends one file with those that differ, checks that
 * IC shows them, and reports what it changed. Per-invoice data stays on the worker's disk;
 * history holds a handful of events whatever the cycle's size. The decisions are pure
 * functions in domain/balance-refresh.ts; NEEDS_ATTENTION ends the run with one alert (a
 * person checks IC and refreshes the cycle again).
 */
import {
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import { raiseAlert } from './alerts';
import {
  BalanceRefreshStatus,
  DEFAULT_REFRESH_RATE_PER_SECOND,
  FailureType,
  afterComparison,
  afterVerification,
  comparedProgress,
  refreshAuthRejectedAlert,
  refreshFailedAlert,
  refreshInputProblem,
  type BalanceComparison,
  type BalanceRefreshInput,
  type BalanceRefreshProgress,
  type BalanceRefreshResult,
  type RefreshAlert,
  balanceRefreshProgressQuery,
} from '../domain';
import { callIcAlertingOnAuth } from './ic-calls';
import { failureMessageOf, failureTypeOf } from './failures';

const RETRY: RetryPolicy = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '2 minutes',
};
const UNTIL_AUTH: RetryPolicy = {
  ...RETRY,
  nonRetryableErrorTypes: [FailureType.AuthRejected],
};
const LONG = { startToCloseTimeout: '12 hours', heartbeatTimeout: '2 minutes' } as const;

const first = proxyActivities<Activities>({ ...LONG, scheduleToCloseTimeout: '24 hours', retry: UNTIL_AUTH });
const patient = proxyActivities<Activities>({ ...LONG, retry: RETRY });

export async function balanceRefreshWorkflow(input: BalanceRefreshInput): Promise<BalanceRefreshResult> {
  const problem = refreshInputProblem(input);
  if (problem)
    throw ApplicationFailure.create({ type: 'InvalidRefreshInput', nonRetryable: true, message: problem });
  const refresh = new Refresh(input.cycle, input.ratePerSecond ?? DEFAULT_REFRESH_RATE_PER_SECOND);
  try {
    return await refresh.run();
  } catch (err) {
    if (!isCancellation(err))
      await refresh.alert(
        refreshFailedAlert(input.cycle, failureTypeOf(err) ?? 'Error', failureMessageOf(err)),
      );
    throw err;
  }
}

class Refresh {
  private readonly progress: BalanceRefreshProgress = { status: BalanceRefreshStatus.COMPARING };

  constructor(
    private readonly cycle: string,
    private readonly ratePerSecond: number,
  ) {
    setHandler(balanceRefreshProgressQuery, () => this.progress);
  }

  /** compare → upload what differs → verify. */
  async run(): Promise<BalanceRefreshResult> {
    const { cycle, ratePerSecond } = this;
    this.show(BalanceRefreshStatus.COMPARING, `at most ${ratePerSecond} calls per second to IMT and to IC`);
    const runKey = workflowInfo().runId.replace(/-/g, '');
    const comparison = await this.callIc((a) => a.compareCycleBalances({ cycle, runKey, ratePerSecond }));
    Object.assign(this.progress, comparedProgress(comparison));
    const result: BalanceRefreshResult = { cycle, status: BalanceRefreshStatus.DONE, comparison };
    const next = afterComparison(comparison);
    this.show(next.status, next.detail);
    if (next.status === BalanceRefreshStatus.DONE) return result;

    const { filePath, fileName, sha256 } = next.file;
    result.upload = await this.callIc((a) => a.uploadInvoiceFile({ filePath, fileName, sha256 }));
    this.show(
      BalanceRefreshStatus.VERIFYING,
      `${next.file.invoiceCount} balances sent; asking IC until it shows them`,
    );
    result.verification = await this.verify(comparison);
    const verdict = afterVerification(cycle, comparison, result.verification);
    result.status = verdict.status;
    this.show(verdict.status, verdict.detail);
    if (verdict.status === BalanceRefreshStatus.NEEDS_ATTENTION) await this.alert(verdict.alert);
    return result;
  }

  private verify(comparison: BalanceComparison) {
    const verifyInput = { differencesPath: comparison.differencesPath, ratePerSecond: this.ratePerSecond };
    return this.callIc((a) => a.verifyRefreshedBalances(verifyInput));
  }

  /** First without retrying IC's credential refusal; after one alert, patiently until fixed. */
  private callIc<T>(call: (a: typeof first) => Promise<T>): Promise<T> {
    return callIcAlertingOnAuth(
      () => call(first),
      () => call(patient),
      async (message) => {
        this.show(BalanceRefreshStatus.AUTH_REJECTED, message);
        await this.alert(refreshAuthRejectedAlert(this.cycle, message));
      },
    );
  }

  private show(status: BalanceRefreshStatus, detail: string): void {
    this.progress.status = status;
    setCurrentDetails(`**${status}** · balances of cycle ${this.cycle}\n\n${detail}`);
  }

  // Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts).
  async alert({ title, text }: RefreshAlert): Promise<void> {
    const { workflowId, runId } = workflowInfo();
    await raiseAlert({ key: `${workflowId}:${runId}:${this.progress.status}`, title, text });
  }
}
