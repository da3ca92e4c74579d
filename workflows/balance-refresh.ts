/**
 * `balances-refresh-<cycle>` (`imt-ic balances refresh --cycle C`): compares IMT's balance
 * of every invoice of a cycle with IC's, sends one file with those that differ, checks that
 * IC shows them, and reports what it changed. Per-invoice data stays on the worker's disk;
 * history holds a handful of events whatever the cycle's size.
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
  isBillingCycle,
  BalanceRefreshStatus,
  FailureType,
  type BalanceRefreshInput,
  type BalanceRefreshProgress,
  type BalanceRefreshResult,
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

export const DEFAULT_REFRESH_RATE_PER_SECOND = 10;

/**
 * Why one long function: the refresh's progress query and its steps (compare → refresh →
 * verify) share one closure (Temporal's workflow style).
 */
export async function balanceRefreshWorkflow(input: BalanceRefreshInput): Promise<BalanceRefreshResult> {
  const { cycle } = input;
  const ratePerSecond = input.ratePerSecond ?? DEFAULT_REFRESH_RATE_PER_SECOND;
  if (!isBillingCycle(cycle))
    throw ApplicationFailure.create({
      type: 'InvalidRefreshInput',
      nonRetryable: true,
      message: `invalid billing cycle ${JSON.stringify(cycle)}: expected YYYY-MM-01`,
    });
  const info = workflowInfo();
  const progress: BalanceRefreshProgress = { status: BalanceRefreshStatus.COMPARING };
  setHandler(balanceRefreshProgressQuery, () => progress);
  const setStatus = (status: BalanceRefreshStatus, detail: string) => {
    progress.status = status;
    setCurrentDetails(`**${status}** · balances of cycle ${cycle}\n\n${detail}`);
  };
  // Never blocks the run: the alert is delivered by its own run (workflows/alerts.ts).
  const alert = async (title: string, text: string) => {
    await raiseAlert({ key: `${info.workflowId}:${info.runId}:${progress.status}`, title, text });
  };
  const onAuthRejected = async (message: string) => {
    setStatus(BalanceRefreshStatus.AUTH_REJECTED, message);
    await alert(
      `Balance refresh of cycle ${cycle}: IC rejects the credentials`,
      `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the refresh resumes by itself.`,
    );
  };

  try {
    setStatus(BalanceRefreshStatus.COMPARING, `at most ${ratePerSecond} calls per second to IMT and to IC`);
    const runKey = info.runId.replace(/-/g, '');
    const comparison = await callIcAlertingOnAuth(
      () => first.compareCycleBalances({ cycle, runKey, ratePerSecond }),
      () => patient.compareCycleBalances({ cycle, runKey, ratePerSecond }),
      onAuthRejected,
    );
    Object.assign(progress, {
      compared: comparison.compared,
      total: comparison.compared,
      differing: comparison.differing,
    });
    const result: BalanceRefreshResult = { cycle, status: BalanceRefreshStatus.DONE, comparison };
    const file = comparison.file;
    if (!file) {
      setStatus(
        BalanceRefreshStatus.DONE,
        `${comparison.compared} invoices compared; IC agrees with IMT on all`,
      );
      return result;
    }

    setStatus(
      BalanceRefreshStatus.UPLOADING,
      `${file.invoiceCount} of ${comparison.compared} invoices differ: ${file.fileName}`,
    );
    const uploadInput = { filePath: file.filePath, fileName: file.fileName, sha256: file.sha256 };
    result.upload = await callIcAlertingOnAuth(
      () => first.uploadInvoiceFile(uploadInput),
      () => patient.uploadInvoiceFile(uploadInput),
      onAuthRejected,
    );

    setStatus(
      BalanceRefreshStatus.VERIFYING,
      `${file.invoiceCount} balances sent; asking IC until it shows them`,
    );
    const verifyInput = { differencesPath: comparison.differencesPath, ratePerSecond };
    result.verification = await callIcAlertingOnAuth(
      () => first.verifyRefreshedBalances(verifyInput),
      () => patient.verifyRefreshedBalances(verifyInput),
      onAuthRejected,
    );
    const v = result.verification;
    if (v.stillDifferent === 0) {
      setStatus(BalanceRefreshStatus.DONE, `${v.verified} balances updated in IC and verified`);
      return result;
    }
    result.status = BalanceRefreshStatus.NEEDS_ATTENTION;
    const listed = v.sample.map((d) => d.invoice_number).join(', ');
    setStatus(
      BalanceRefreshStatus.NEEDS_ATTENTION,
      `${v.stillDifferent} invoices still differ in IC: ${listed}`,
    );
    await alert(
      `Balance refresh of cycle ${cycle} needs attention: ${v.stillDifferent} invoices still differ in IC`,
      `${v.verified} of ${v.verified + v.stillDifferent} balances sent are shown by IC; still different: ${listed}${
        v.stillDifferent > v.sample.length ? ', …' : ''
      } (all in ${comparison.differencesPath}).`,
    );
    return result;
  } catch (err) {
    if (!isCancellation(err)) {
      await alert(
        `Balance refresh of cycle ${cycle} failed`,
        `${failureTypeOf(err) ?? 'Error'}: ${failureMessageOf(err)}`,
      );
    }
    throw err;
  }
}
