/**
 * `imt-ic adjustments list|show|retry|dismiss` on the real dev server (issue 20 item 4): a
 * parked balance update is retried or dismissed in one call — one Update each, whose
 * validator refuses a request in the wrong state without writing history (exit 4) — and an
 * unknown run is exit 3. The run parks the way IC makes it park: IC never shows the upload.
 *
 * Invoices come from a month no other test file uses: `invoice-adjusted-<n>` is namespace-wide.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAdjustmentCommands, type AdjustmentRow } from '../../client/cli/adjustment-commands';
import { generateCycle } from '../../simulators/imt/dataset';
import {
  AdjustmentStatus,
  invoiceAdjustedWorkflowId,
  invoiceAdjustmentStateQuery,
  type InvoiceAdjustmentState,
} from '../../domain';
import { startAlertedHarness, stopAlertedHarness } from '../helpers/alerted-harness';
import type { SlackAlertSink } from '../helpers/slack-alerts';
import { harnessContext, runCli } from '../helpers/cli';
import { eventually, type Harness } from '../helpers/harness';

const CYCLE = { seed: 83, invoiceMonth: '2024-10-01', count: 6, invalidEvery: 0 };

// Alike in shape across the alerted tests on purpose: each file starts its own harness, task queue and cycles.
let h: Harness;
let slack: SlackAlertSink;

beforeAll(async () => {
  ({ h, slack } = await startAlertedHarness({
    name: 'cli-operators',
    withIc: true,
    cycles: [CYCLE],
    icBalanceCheck: { intervalMs: 200, attempts: 5 },
  }));
});

afterAll(() => stopAlertedHarness(h, slack));

const cli = (...args: string[]) =>
  runCli((program) => registerAdjustmentCommands(program, harnessContext(h)), args);
const handleOf = (n: string) => h.client.workflow.getHandle(invoiceAdjustedWorkflowId(n));
const stateOf = (n: string) => handleOf(n).query(invoiceAdjustmentStateQuery);

async function statusReached(n: string, status: AdjustmentStatus): Promise<InvoiceAdjustmentState> {
  return eventually(async () => {
    const s = await stateOf(n);
    return s.status === status ? s : undefined;
  }, 60_000);
}

/** IC stops showing uploads, IMT reports a change: the run sends, checks and parks. */
async function park(n: string): Promise<InvoiceAdjustmentState> {
  h.ic!.icFaults.set({ loadDelayMs: null });
  expect((await h.http.post(`/api/integration/invoice/${n}/adjusted`, { reason: 'late fee' })).status).toBe(
    202,
  );
  return statusReached(n, AdjustmentStatus.NEEDS_ATTENTION);
}

/** A refused Update writes no history: the run's history length is the same before and after. */
async function expectRefusedWithoutHistory(n: string, args: string[], message: string): Promise<void> {
  const before = (await handleOf(n).describe()).historyLength;
  const run = await cli('adjustments', ...args);
  expect(run.exitCode).toBe(4);
  expect(run.err).toContain(message);
  expect((await handleOf(n).describe()).historyLength).toBe(before);
}

describe('imt-ic adjustments', () => {
  it('an unknown invoice is exit 3, a bad one exit 2', async () => {
    for (const command of ['retry', 'show']) {
      const run = await cli('adjustments', command, '999920241001');
      expect(run.exitCode).toBe(3);
      expect(run.err).toContain('no balance update of invoice 999920241001');
    }
    const dismiss = await cli('adjustments', 'dismiss', '999920241001', '--reason', 'not ours');
    expect(dismiss.exitCode).toBe(3);
    const bad = await cli('adjustments', 'retry', "0406'; drop");
    expect(bad.exitCode).toBe(2);
    expect(bad.err).toContain('<invoice_number>');
  });

  it('lists and shows a parked update, retries it once IC is fixed, and refuses a retry once verified', async () => {
    const n = generateCycle(CYCLE).invoiceAt(1).invoice_number;
    try {
      await park(n);
      const listed = await cli('adjustments', 'list', '--status', 'NEEDS_ATTENTION', '--json');
      expect(listed.exitCode).toBe(0);
      expect(JSON.parse(listed.out) as AdjustmentRow[]).toContainEqual(
        expect.objectContaining({ invoice_number: n, status: AdjustmentStatus.NEEDS_ATTENTION }),
      );
      const shown = await cli('adjustments', 'show', n);
      expect(shown.exitCode).toBe(0);
      expect(shown.out).toContain(`Balance update of invoice ${n}: NEEDS_ATTENTION (run RUNNING)`);
      expect(shown.out).toContain('not known to IC after 5 checks');
      expect(shown.out).toContain(`imt-ic adjustments retry ${n}`);

      h.ic!.icFaults.clear();
      const retried = await cli('adjustments', 'retry', n, '--by', 'ann');
      expect(retried.err).toBe('');
      expect(retried.exitCode).toBe(0);
      expect(retried.out).toMatch(
        new RegExp(`^Retried the balance update of invoice ${n}: now (VERIFIED|SYNCING|VERIFYING)\\.`),
      );
      const verified = await statusReached(n, AdjustmentStatus.VERIFIED);
      expect(verified.syncs).toHaveLength(2);
      const live = await h.deps.imt.getInvoiceDetail(n);
      expect(h.ic!.invoices().get(n)?.balanceDue).toBe(live.amount_due);

      // VERIFIED: not parked, so both Updates are refused without touching the run.
      const wrongState = `the balance update of invoice ${n}: the balance update of invoice ${n} is VERIFIED; only a NEEDS_ATTENTION one can be`;
      await expectRefusedWithoutHistory(n, ['retry', n], `cannot retry ${wrongState} retried`);
      await expectRefusedWithoutHistory(
        n,
        ['dismiss', n, '--reason', 'fixed'],
        `cannot dismiss ${wrongState} dismissed`,
      );
      expect((await stateOf(n)).status).toBe(AdjustmentStatus.VERIFIED);
    } finally {
      h.ic!.icFaults.clear();
      await handleOf(n)
        .terminate('test done')
        .catch(() => undefined);
    }
  });

  it('a retry that parks again says so (exit 1); dismiss closes it and then every Update is refused', async () => {
    const n = generateCycle(CYCLE).invoiceAt(2).invoice_number;
    const workflowId = invoiceAdjustedWorkflowId(n);
    try {
      await park(n);
      // IC still shows nothing: the retry's round parks again, and the answer says so.
      const again = await cli('adjustments', 'retry', n);
      expect(again.exitCode).toBe(1);
      expect(again.out).toContain(`invoice ${n}: now NEEDS_ATTENTION.`);
      expect(again.err).toContain('it needs attention again: sent balance');
      // One alert per parking.
      const alerts = await eventually(async () => {
        const a = slack.of(workflowId);
        return a.length >= 2 ? a : undefined;
      });
      expect(alerts.map((a) => a.title)).toEqual([
        `Balance update of invoice ${n} needs attention: IC does not show IMT's balance`,
        `Balance update of invoice ${n} needs attention: IC does not show IMT's balance`,
      ]);

      const dismissed = await cli(
        'adjustments',
        'dismiss',
        n,
        '--reason',
        'fixed in IC by hand',
        '--by',
        'ann',
      );
      expect(dismissed.err).toBe('');
      expect(dismissed.exitCode).toBe(0);
      expect(dismissed.out).toBe(`The balance update of invoice ${n} is DISMISSED: fixed in IC by hand\n`);
      expect(await handleOf(n).result()).toMatchObject({
        status: AdjustmentStatus.DISMISSED,
        closingReason: 'fixed in IC by hand',
        dismissedBy: 'ann',
      });
      const shown = await cli('adjustments', 'show', n);
      expect(shown.out).toContain('DISMISSED (run COMPLETED)');
      expect(shown.out).toContain('fixed in IC by hand (by ann)');

      for (const args of [
        ['retry', n],
        ['dismiss', n, '--reason', 'again'],
      ]) {
        const run = await cli('adjustments', ...args);
        expect(run.exitCode).toBe(4);
        expect(run.err).toContain('its run has ended (COMPLETED)');
      }
      expect(slack.of(workflowId)).toHaveLength(2);
    } finally {
      h.ic!.icFaults.clear();
    }
  });
});
