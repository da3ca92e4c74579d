/**
 * The balance refresh's decisions (domain/balance-refresh.ts) from tables of cases: the
 * outcome of each step → what the run does next, what it shows and what it alerts.
 */
import { describe, expect, it } from 'vitest';
import {
  BalanceRefreshStatus,
  afterComparison,
  afterVerification,
  comparedProgress,
  refreshAuthRejectedAlert,
  refreshFailedAlert,
  refreshInputProblem,
  type BalanceComparison,
  type BalanceDifference,
  type BalanceVerification,
} from '../../domain';

const CYCLE = '2024-09-01';
const diff = (n: number): BalanceDifference => ({
  invoice_number: `0406202409${String(n).padStart(2, '0')}`,
  imt: { balanceDue: '10.00', pastDue: '0.00' },
  ic: { balanceDue: '12.00', pastDue: '0.00' },
});
const file = {
  filePath: '/d/f.txt',
  fileName: 'refresh_2024-09-01_x.txt',
  sha256: 'ab',
  bytes: 10,
  invoiceCount: 3,
};
const comparison = (over: Partial<BalanceComparison> = {}): BalanceComparison => ({
  cycle: CYCLE,
  compared: 12,
  differing: 3,
  notInIc: 0,
  unsendable: 0,
  differencesPath: '/d/differences.jsonl',
  sample: [diff(1), diff(2), diff(3)],
  file,
  ...over,
});

describe('refreshInputProblem', () => {
  const cases: [string, string, string | undefined][] = [
    ['the first of a month', '2024-09-01', undefined],
    ['another day', '2024-09-15', 'invalid billing cycle "2024-09-15": expected YYYY-MM-01'],
    ['not a date', 'September', 'invalid billing cycle "September"'],
    ['empty', '', 'expected YYYY-MM-01'],
  ];
  it.each(cases)('%s', (_name, cycle, want) => {
    const problem = refreshInputProblem({ cycle });
    if (want === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(want);
  });
});

describe('afterComparison', () => {
  const cases: [string, BalanceComparison, BalanceRefreshStatus, string][] = [
    [
      'nothing differs: done, nothing sent',
      comparison({ differing: 0, sample: [], file: undefined }),
      BalanceRefreshStatus.DONE,
      '12 invoices compared; IC agrees with IMT on all',
    ],
    [
      'only unsendable ones differ: no file, done',
      comparison({ differing: 1, unsendable: 1, file: undefined }),
      BalanceRefreshStatus.DONE,
      '12 invoices compared; 1 differ, none can be sent (0 unknown to IC, 1 not sendable)',
    ],
    [
      'some differ: the file is sent',
      comparison(),
      BalanceRefreshStatus.UPLOADING,
      `3 of 12 invoices differ: ${file.fileName}`,
    ],
  ];
  it.each(cases)('%s', (_name, c, status, detail) => {
    const next = afterComparison(c);
    expect(next).toMatchObject({ status, detail });
    if (next.status === BalanceRefreshStatus.UPLOADING) expect(next.file).toBe(file);
    expect(comparedProgress(c)).toEqual({ compared: 12, total: 12, differing: c.differing });
  });
});

describe('afterVerification', () => {
  const v = (over: Partial<BalanceVerification>): BalanceVerification => ({
    verified: 3,
    stillDifferent: 0,
    sample: [],
    ...over,
  });
  const cases: [string, BalanceVerification, BalanceRefreshStatus, string, string | undefined][] = [
    [
      'IC shows them all',
      v({}),
      BalanceRefreshStatus.DONE,
      '3 balances updated in IC and verified',
      undefined,
    ],
    [
      'one still differs',
      v({ verified: 2, stillDifferent: 1, sample: [diff(2)] }),
      BalanceRefreshStatus.NEEDS_ATTENTION,
      '1 invoices still differ in IC: 040620240902',
      '2 of 3 balances sent are shown by IC; still different: 040620240902 (all in /d/differences.jsonl)',
    ],
    [
      'more than the sample: the list says so',
      v({ verified: 0, stillDifferent: 30, sample: [diff(1), diff(2)] }),
      BalanceRefreshStatus.NEEDS_ATTENTION,
      '30 invoices still differ in IC: 040620240901, 040620240902',
      'still different: 040620240901, 040620240902, … (all in',
    ],
  ];
  it.each(cases)('%s', (_name, verification, status, detail, alertText) => {
    const verdict = afterVerification(CYCLE, comparison(), verification);
    expect(verdict).toMatchObject({ status, detail });
    if (verdict.status !== BalanceRefreshStatus.NEEDS_ATTENTION) {
      expect(alertText).toBeUndefined();
      return;
    }
    expect(verdict.alert.title).toBe(
      `Balance refresh of cycle ${CYCLE} needs attention: ${verification.stillDifferent} invoices still differ in IC`,
    );
    expect(verdict.alert.text).toContain(alertText);
    expect(verdict.alert.text).toContain(`imt-ic balances refresh --cycle ${CYCLE}`);
  });
});

describe('alerts', () => {
  it.each([
    [
      refreshAuthRejectedAlert(CYCLE, 'IC said 401'),
      'IC rejects the credentials',
      'IC said 401. Fix IC_BILLER_GUID',
    ],
    [refreshFailedAlert(CYCLE, 'FileRejected', 'Success=false'), 'failed', 'FileRejected: Success=false'],
  ])('%#', (alert, title, text) => {
    expect(alert.title).toBe(
      `Balance refresh of cycle ${CYCLE}${title === 'failed' ? ' failed' : `: ${title}`}`,
    );
    expect(alert.text).toContain(text);
  });
});
