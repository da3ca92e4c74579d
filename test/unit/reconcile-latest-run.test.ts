/**
 * Of one transaction's runs listed for the day (sorted spill, equal keys in listing order),
 * the one that stands for it (activities/reconcile-service-side.ts `latestRun`): the latest
 * started, the last listed of equal start times — what the merge compares with IMT.
 */
import { describe, expect, it } from 'vitest';
import { latestRun, type ListedRun } from '../../activities/reconcile-service-side';

const run = (runId: string, startedAt: number, continuedAsNew = false): ListedRun => ({
  payment: {
    txid: 'T1',
    workflowId: 'payment-T1',
    runId,
    customer: 'C1',
    invoice: 'C120220901',
    cents: 100,
    status: 'POSTED',
    running: true,
    pending: false,
  },
  startedAt,
  continuedAsNew,
});

describe('latestRun', () => {
  it.each([
    ['none listed', [], undefined],
    ['one run', [run('a', 1)], 'a'],
    ['a run continued as new, then its next run the same day', [run('a', 1, true), run('b', 2)], 'b'],
    ['listed newest first', [run('b', 2), run('a', 1, true)], 'b'],
    ['equal start times: the last listed', [run('a', 5), run('b', 5)], 'b'],
  ])('%s', (_, runs, expected) => {
    expect(latestRun(runs)?.payment.runId).toBe(expected);
  });
});
