/**
 * A deploy does not cut a posting off (issue 22): a worker asked to stop while IMT is still
 * answering lets that attempt finish (shutdownGraceTime longer than one IMT attempt), so the
 * payment is posted by its first attempt instead of ending in "IMT may hold it" and a retry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transactionStateQuery, workflowIds } from '../../domain';
import { SHUTDOWN_GRACE_MS } from '../../worker/worker';
import { IMT_ATTEMPT_TIMEOUT_MS } from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ name: 'worker-shutdown', confirmWaitMs: 100, imtTimeoutMs: 10_000 });
});
afterAll(async () => {
  await h?.stop();
});

describe('worker shutdown', () => {
  it('waits longer than one IMT attempt', () => {
    expect(SHUTDOWN_GRACE_MS).toBeGreaterThan(IMT_ATTEMPT_TIMEOUT_MS);
  });

  it('lets a posting in flight finish: posted by its first attempt, no retry', async () => {
    const p = seedPayment(h.imt);
    h.imt.faults.set({ latencyMs: 1500, routes: ['/api/integration/invoice/post-payment'] });
    expect((await h.http.post('/api/integration/invoice/post-payment', p)).status).toBe(202);
    await eventually(async () =>
      h.imt.requestLog().some((r) => r.method === 'POST' && r.path.includes('post-payment')),
    );
    // Mid-call: IMT has the request and answers in 1.5 s.
    await h.stopWorker();
    h.imt.faults.clear();
    expect(h.imt.postings().map((x) => x.transaction_id)).toContain(p.transaction_id);

    await h.startWorker();
    const handle = h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));
    const state = await eventually(async () => {
      const s = await handle.query(transactionStateQuery);
      return s.status === 'POSTED' ? s : undefined;
    });
    expect(state.posting.attempts).toBe(1);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes?.attempt);
    expect(attempts).toEqual([1]);
    expect(history.events?.some((e) => e.activityTaskFailedEventAttributes)).toBe(false);
  });
});
