/**
 * IC answering `Success=false` (contracts D) and miscounting a file, on the real dev server
 * against the IC simulator's failure modes: credentials refused (alert once, retry slowly,
 * resume once fixed), IC busy (retried), InvoiceCount different from the file (parked for a
 * person, who accepts or fails the export), and a failed balance update that alerts.
 *
 * Export cycles here (2024-0x) and invoice months are used by no other test file: workflow
 * IDs are namespace-wide.
 */
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStatus, startExport } from '../../client/exports';
import { approveExport, rejectExport } from '../../client/export-decisions';
import { generateCycle } from '../../simulators/imt/dataset';
import {
  ExportFailureType,
  ExportStatus,
  FailureType,
  invoiceAdjustedWorkflowId,
  workflowIds,
  type ExportResult,
} from '../../domain';
import { startAlertedHarness, stopAlertedHarness } from '../helpers/alerted-harness';
import type { SlackAlertSink } from '../helpers/slack-alerts';
import { exportProbes } from '../helpers/export-probes';
import { eventually, type Harness } from '../helpers/harness';

// Shaped like export.test.ts's table on purpose: seeds and months of its own (export IDs are namespace-wide).
const CYCLES = {
  auth: { seed: 41, invoiceMonth: '2024-01-01', count: 12, invalidEvery: 0 },
  busy: { seed: 43, invoiceMonth: '2024-02-01', count: 12, invalidEvery: 0 },
  accept: { seed: 47, invoiceMonth: '2024-03-01', count: 12, invalidEvery: 0 },
  fail: { seed: 53, invoiceMonth: '2024-04-01', count: 12, invalidEvery: 0 },
  adjust: { seed: 59, invoiceMonth: '2024-06-01', count: 10, invalidEvery: 0 },
};

// Alike in shape across the alerted tests on purpose: each file starts its own harness, task queue and cycles.
let h: Harness;
let slack: SlackAlertSink;

beforeAll(async () => {
  ({ h, slack } = await startAlertedHarness({
    name: 'ic-failures',
    withIc: true,
    cycles: Object.values(CYCLES),
    authRetryDelayMs: 300,
  }));
});

afterAll(() => stopAlertedHarness(h, slack));

const { handleOf, statusAttr, uploadsOf } = exportProbes(() => h);

/** Attempt numbers of every start of the named activity in a run's history. */
async function attemptsOf(workflowId: string, activityType: string): Promise<number[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const st = e.activityTaskStartedEventAttributes;
    if (st && scheduled.get(String(st.scheduledEventId)) === activityType) attempts.push(st.attempt ?? 0);
  }
  return attempts;
}

describe('IC Success=false on UploadInvoiceFile', () => {
  it('credentials refused: AUTH_REJECTED, one alert, retried slowly, and the upload resumes once fixed', async () => {
    const cycle = CYCLES.auth.invoiceMonth;
    h.ic!.icFaults.set({ refuse: { kind: 'auth', count: null, methods: ['UploadInvoiceFile'] } });
    try {
      await startExport(h.client, h.taskQueue, { cycle });
      await eventually(async () => (await statusAttr(cycle)) === ExportStatus.AUTH_REJECTED);
      const status = await exportStatus(h.client, cycle);
      expect(status.summary?.lastError?.type).toBe(FailureType.AuthRejected);
      expect(status.summary?.lastError?.message).toContain('Authentication failed');
      // Still retrying (300 ms apart here) with the alert sent once.
      await eventually(async () => ((await exportStatus(h.client, cycle)).progress?.attempt ?? 0) >= 3);
      expect(uploadsOf(cycle)).toHaveLength(0);
      const sent = slack.of(workflowIds.export(cycle));
      expect(sent).toHaveLength(1);
      expect(sent[0].title).toContain('IC rejects the credentials');
      expect(JSON.stringify(sent)).not.toContain(h.deps.ic ? 'WebServiceKey>' : '');
    } finally {
      h.ic!.icFaults.clear();
    }
    const result = (await handleOf(cycle).result()) as ExportResult;
    expect(result.icInvoiceCount).toBe(12);
    expect(uploadsOf(cycle)).toEqual([expect.objectContaining({ success: true, invoiceCount: 12 })]);
    expect(await statusAttr(cycle)).toBe(ExportStatus.UPLOADED);
    expect(slack.of(workflowIds.export(cycle))).toHaveLength(1);
  });

  it('IC busy: retried with backoff, no alert, uploaded once', async () => {
    const cycle = CYCLES.busy.invoiceMonth;
    h.ic!.icFaults.set({ refuse: { kind: 'busy', count: 2, methods: ['UploadInvoiceFile'] } });
    try {
      const started = await startExport(h.client, h.taskQueue, { cycle, wait: true });
      expect(started.result?.icInvoiceCount).toBe(12);
    } finally {
      h.ic!.icFaults.clear();
    }
    expect(uploadsOf(cycle)).toHaveLength(1);
    // Two busy answers, then success on the third attempt of one activity.
    expect(await attemptsOf(workflowIds.export(cycle), 'uploadInvoiceFile')).toEqual([3]);
    expect(slack.of(workflowIds.export(cycle))).toHaveLength(0);
  });
});

describe('IC InvoiceCount differs from the file', () => {
  it('parks in NEEDS_ATTENTION with one alert; approve accepts the upload', async () => {
    const cycle = CYCLES.accept.invoiceMonth;
    h.ic!.icFaults.set({ invoiceCountDelta: -1 });
    try {
      await startExport(h.client, h.taskQueue, { cycle });
      await eventually(async () => (await statusAttr(cycle)) === ExportStatus.NEEDS_ATTENTION);
    } finally {
      h.ic!.icFaults.clear();
    }
    const status = await exportStatus(h.client, cycle);
    expect(status.summary?.countMismatch).toMatchObject({ icInvoiceCount: 11, fileInvoiceCount: 12 });
    await eventually(async () => slack.of(workflowIds.export(cycle)).length === 1);
    expect(slack.of(workflowIds.export(cycle))[0].title).toContain('IC counts 11 invoices, the file has 12');

    await approveExport(h.client, cycle, { by: 'test-operator', note: 'checked in IC' });
    const result = (await handleOf(cycle).result()) as ExportResult;
    expect(result).toMatchObject({ invoiceCount: 12, icInvoiceCount: 11 });
    expect(await statusAttr(cycle)).toBe(ExportStatus.UPLOADED);
    expect(result.countMismatch?.decision).toMatchObject({
      decision: 'approved',
      by: 'test-operator',
    });
    expect(uploadsOf(cycle)).toHaveLength(1);
    expect(slack.of(workflowIds.export(cycle))).toHaveLength(1);
  });

  it('reject fails the export with IcInvoiceCountMismatch', async () => {
    const cycle = CYCLES.fail.invoiceMonth;
    h.ic!.icFaults.set({ invoiceCountDelta: 3 });
    try {
      await startExport(h.client, h.taskQueue, { cycle });
      await eventually(async () => (await statusAttr(cycle)) === ExportStatus.NEEDS_ATTENTION);
    } finally {
      h.ic!.icFaults.clear();
    }
    await rejectExport(h.client, cycle, { reason: 'IC shows duplicates', by: 'test-operator' });
    const err = await handleOf(cycle)
      .result()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe(ExportFailureType.IcInvoiceCountMismatch);
    expect(cause.message).toContain('IC counted 15 invoices for a file of 12: IC shows duplicates');
    expect(await statusAttr(cycle)).toBe(ExportStatus.FAILED);
    expect(slack.of(workflowIds.export(cycle))).toHaveLength(1);
  });
});

describe('invoice adjustment', () => {
  it('a run that fails (IC refuses the file) alerts once', async () => {
    const invoice = generateCycle(CYCLES.adjust).invoiceAt(2);
    const workflowId = invoiceAdjustedWorkflowId(invoice.invoice_number);
    h.ic!.rejectUploads('Invoice file refused: line 2, field due_date: not a valid date');
    try {
      const res = await h.http.post(`/api/integration/invoice/${invoice.invoice_number}/adjusted`, {});
      expect(res.status).toBe(202);
      const err = await h.client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const activity = (err as WorkflowFailedError).cause;
      expect(activity).toBeInstanceOf(ActivityFailure);
      expect(((activity as ActivityFailure).cause as ApplicationFailure).type).toBe(FailureType.FileRejected);
    } finally {
      h.ic!.rejectUploads(null);
    }
    // Alerts are delivered by their own runs (workflows/alerts.ts): wait for it.
    const sent = await eventually(async () =>
      slack.of(workflowId).length ? slack.of(workflowId) : undefined,
    );
    expect(sent).toHaveLength(1);
    expect(sent[0].title).toContain(`Balance update of invoice ${invoice.invoice_number} failed`);
    expect(sent[0].text).toContain('FileRejected');
  });
});
