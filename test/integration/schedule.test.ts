/**
 * The export Schedule on the real dev server: create/update/describe/pause/unpause/
 * trigger/delete; its daily action exports the cycle before the *scheduled* month, once, and
 * alerts once about a cycle still empty past the configured day.
 */
import { randomBytes } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerScheduleCommands } from '../../client/cli/schedule-commands';
// The names the schedule CLI imports too (client/cli/schedule-commands.ts): this file tests them directly as well.
import {
  createOrUpdateExportSchedule,
  deleteExportSchedule,
  describeExportSchedule,
  pauseExportSchedule,
  triggerExportSchedule,
  unpauseExportSchedule,
} from '../../client/schedule';
import {
  cycleOfInstant,
  EXPORT_SCHEDULE_SUMMARY,
  ExportStatus,
  SA,
  taskQueuesOf,
  workflowIds,
  type ExportResult,
  type ScheduledExportOutcome,
} from '../../domain';
import { harnessContext, runCli } from '../helpers/cli';
import { eventually, type Harness } from '../helpers/harness';
import { startAlertedHarness, stopAlertedHarness } from '../helpers/alerted-harness';
import type { SlackAlertSink } from '../helpers/slack-alerts';

const TIME_ZONE = 'America/Chicago';
/** The cycle a trigger now exports: the month before "now" in Chicago. */
const PREVIOUS_CYCLE = cycleOfInstant(new Date(), TIME_ZONE, -1);
/** A past month reached through a backfill: proves the cycle comes from the scheduled time. */
const BACKFILL_CYCLE = '2021-06-01';
/** A year back: a cycle IMT has no invoice of (the empty-cycle alert). */
const EMPTY_OFFSET = -12;

let h: Harness;
let slack: SlackAlertSink;
const scheduleId = `export-billing-cycles-test-${randomBytes(4).toString('hex')}`;
const emptyScheduleId = `${scheduleId}-empty`;

beforeAll(async () => {
  ({ h, slack } = await startAlertedHarness({
    name: 'schedule',
    withIc: true,
    cycles: [
      { seed: 3, invoiceMonth: PREVIOUS_CYCLE, count: 25, invalidEvery: 0 },
      { seed: 5, invoiceMonth: BACKFILL_CYCLE, count: 15, invalidEvery: 0 },
    ],
  }));
  // IMT creates the previous cycle's invoices on the 3rd of this month: on the 1st or 2nd they
  // are not there yet. The trigger test is about the schedule, so IMT's clock is past that day.
  h.imt.setClock(new Date(Date.now() + 7 * 24 * 3600 * 1000));
});
afterAll(async () => {
  await deleteExportSchedule(h.client, scheduleId).catch(() => undefined);
  await deleteExportSchedule(h.client, emptyScheduleId).catch(() => undefined);
  await stopAlertedHarness(h, slack);
});

const cli = (...args: string[]) =>
  runCli((program) => registerScheduleCommands(program, harnessContext(h)), args);

describe('cycleOfInstant', () => {
  it('reads the month in the schedule’s time zone', () => {
    expect(cycleOfInstant(new Date('2022-09-01T11:00:00Z'), 'America/Chicago')).toBe('2022-09-01');
    // 02:00 UTC on the 1st is still the evening of August 31st in Chicago.
    expect(cycleOfInstant(new Date('2022-09-01T02:00:00Z'), 'America/Chicago')).toBe('2022-08-01');
    // 06:00 on the 1st in Tokyo is the 31st in UTC.
    expect(cycleOfInstant(new Date('2022-08-31T21:00:00Z'), 'Asia/Tokyo')).toBe('2022-09-01');
    expect(cycleOfInstant(new Date('2023-01-01T12:00:00Z'), 'America/Chicago', -1)).toBe('2022-12-01');
  });
});

describe('export schedule', () => {
  it('is created paused with the defaults, and updated in place', async () => {
    const created = await createOrUpdateExportSchedule(h.client, {
      scheduleId,
      taskQueue: h.taskQueue,
      paused: true,
    });
    expect(created).toEqual({ scheduleId, created: true });
    const view = await describeExportSchedule(h.client, scheduleId);
    expect(view).toMatchObject({
      scheduleId,
      paused: true,
      timeZone: TIME_ZONE,
      calendar: { hour: 6, minute: 0 },
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindowMs: 24 * 3600 * 1000,
      // An export belongs to the bulk pool (domain/task-queues.ts).
      taskQueue: taskQueuesOf(h.taskQueue).bulk,
      workflowType: 'scheduledExportWorkflow',
      input: { timeZone: TIME_ZONE, cycleMonthOffset: -1, emptyAlertDay: 10, approvalRequired: false },
    });
    // Every day at 06:00 Chicago (11:00 or 12:00 UTC): the next firings are a day apart.
    expect(view.nextActionTimes[0]).toMatch(/^\d{4}-\d{2}-\d{2}T1[12]:00:00\.000Z$/);
    const [a, b] = view.nextActionTimes.map((t) => Date.parse(t));
    expect(Math.abs(b - a - 24 * 3600 * 1000)).toBeLessThanOrEqual(3600 * 1000);

    const again = await cli('schedule', 'create', '--id', scheduleId);
    expect(again.exitCode).toBe(4);
    expect(again.err).toContain('already exists');

    const updated = await cli(
      'schedule',
      'update',
      '--id',
      scheduleId,
      '--hour',
      '7',
      '--minute',
      '30',
      '--json',
    );
    expect(updated.exitCode).toBe(0);
    expect(JSON.parse(updated.out)).toMatchObject({
      calendar: { hour: 7, minute: 30 },
      paused: true,
    });

    expect((await cli('schedule', 'update', '--id', scheduleId, '--hour', '24')).exitCode).toBe(2);
    expect(
      (await cli('schedule', 'update', '--id', scheduleId, '--time-zone', 'Mars/Olympus')).exitCode,
    ).toBe(2);
    expect((await cli('schedule', 'describe', '--id', 'no-such-schedule')).exitCode).toBe(3);
  });

  it("trigger exports the previous month's cycle at once; the next check sends nothing, the one after a late invoice alone", async () => {
    await triggerExportSchedule(h.client, scheduleId);
    const exportId = workflowIds.export(PREVIOUS_CYCLE);
    const first = await starterOutcome(scheduleId, 0);
    expect(first).toMatchObject({
      cycle: PREVIOUS_CYCLE,
      workflowId: exportId,
      started: true,
      exportStatus: ExportStatus.UPLOADED,
      invoiceCount: 25,
      alerted: false,
    });
    const result = (await h.client.workflow.getHandle(exportId).result()) as ExportResult;
    expect(result).toMatchObject({ cycle: PREVIOUS_CYCLE, invoiceCount: 25, icInvoiceCount: 25 });
    const desc = await h.client.workflow.getHandle(exportId).describe();
    expect(desc.typedSearchAttributes.get(SA.BillingCycle)).toBe(PREVIOUS_CYCLE);
    expect(desc.typedSearchAttributes.get(SA.ExportStatus)).toBe(ExportStatus.UPLOADED);
    // The Temporal UI shows what the run is (static summary) and where it is (current details).
    expect(await desc.staticSummary()).toMatch(
      new RegExp(`^Export of billing cycle ${PREVIOUS_CYCLE} · by schedule ${scheduleId}-`),
    );
    const details = async (id: string) =>
      (
        await h.client.workflow
          .getHandle(id)
          .query<{ currentDetails?: string }>('__temporal_workflow_metadata')
      ).currentDetails;
    expect(await details(exportId)).toContain(`**UPLOADED** · billing cycle ${PREVIOUS_CYCLE}`);
    const starterId = (await describeExportSchedule(h.client, scheduleId)).recentActions[0].workflowId;
    const starter = await h.client.workflow.getHandle(starterId).describe();
    expect(await starter.staticSummary()).toBe(EXPORT_SCHEDULE_SUMMARY);
    // Stored readable (not encrypted), so the UI shows it without the codec server.
    const stored = starter.raw.executionConfig?.userMetadata?.summary;
    expect(Buffer.from(stored?.metadata?.encoding ?? []).toString()).toBe('json/plain');
    expect(Buffer.from(stored?.data ?? []).toString()).toBe(JSON.stringify(EXPORT_SCHEDULE_SUMMARY));
    expect(await details(starterId)).toContain(`${exportId}: **UPLOADED** · 25 invoices sent`);

    const triggered = await cli('schedule', 'trigger', '--id', scheduleId);
    expect(triggered.exitCode).toBe(0);
    const second = await starterOutcome(scheduleId, 1);
    expect(second).toMatchObject({
      cycle: PREVIOUS_CYCLE,
      started: true,
      exportStatus: ExportStatus.UP_TO_DATE,
    });
    expect(h.ic!.uploads().filter((u) => u.fileName.startsWith(`invoices_${PREVIOUS_CYCLE}_`))).toHaveLength(
      1,
    );

    // A late invoice: the next daily check sends it alone, in a follow-up file.
    const late = `9001${PREVIOUS_CYCLE.replace(/-/g, '')}`;
    h.imt.addInvoice({
      invoice_number: late,
      customer: '9001',
      amount_due: '33.00',
      invoice_month: PREVIOUS_CYCLE,
    });
    await triggerExportSchedule(h.client, scheduleId);
    expect(await starterOutcome(scheduleId, 2)).toMatchObject({
      cycle: PREVIOUS_CYCLE,
      exportStatus: ExportStatus.UPLOADED,
      invoiceCount: 1,
    });
    const uploads = h.ic!.uploads().filter((u) => u.fileName.startsWith(`invoices_${PREVIOUS_CYCLE}_`));
    expect(uploads.map((u) => u.invoiceCount)).toEqual([25, 1]);
    expect(h.ic!.invoices().get(late)?.loadedFrom).toBe(uploads[1].fileName);
  });

  it('alerts once when the cycle is still empty from the configured day on', async () => {
    // Alert from day 1: whatever day the test runs, the cycle is past it.
    await createOrUpdateExportSchedule(h.client, {
      scheduleId: emptyScheduleId,
      taskQueue: h.taskQueue,
      paused: true,
      cycleMonthOffset: EMPTY_OFFSET,
      emptyAlertDay: 1,
    });
    const cycle = cycleOfInstant(new Date(), TIME_ZONE, EMPTY_OFFSET);
    await triggerExportSchedule(h.client, emptyScheduleId);
    expect(await starterOutcome(emptyScheduleId, 0)).toMatchObject({
      cycle,
      exportStatus: ExportStatus.EMPTY,
      alerted: true,
    });
    await triggerExportSchedule(h.client, emptyScheduleId);
    expect(await starterOutcome(emptyScheduleId, 1)).toMatchObject({
      cycle,
      exportStatus: ExportStatus.EMPTY,
      alerted: true,
    });
    const alerts = await eventually(async () => {
      const sent = slack.alerts.filter((a) => a.title === `Billing cycle ${cycle} is still empty`);
      return sent.length ? sent : undefined;
    });
    expect(alerts).toHaveLength(1);
    expect(h.ic!.uploads().filter((u) => u.fileName.startsWith(`invoices_${cycle}_`))).toHaveLength(0);
  });

  it('derives the cycle from the scheduled time, not the wall clock (backfill)', async () => {
    // One firing: 2021-07-01 06:00 CDT = 11:00 UTC, which checks the June cycle.
    await h.client.schedule.getHandle(scheduleId).backfill({
      start: new Date('2021-07-01T10:00:00Z'),
      end: new Date('2021-07-01T13:00:00Z'),
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    });
    const handle = h.client.workflow.getHandle(workflowIds.export(BACKFILL_CYCLE));
    const result = (await eventually(async () => {
      const d = await handle.describe();
      return d.status.name === 'COMPLETED' ? handle.result() : undefined;
    })) as ExportResult;
    expect(result).toMatchObject({ cycle: BACKFILL_CYCLE, invoiceCount: 15 });
    expect((await handle.describe()).typedSearchAttributes.get(SA.BillingCycle)).toBe(BACKFILL_CYCLE);
  });

  it('pauses, unpauses and deletes', async () => {
    await unpauseExportSchedule(h.client, scheduleId);
    expect((await describeExportSchedule(h.client, scheduleId)).paused).toBe(false);
    await pauseExportSchedule(h.client, scheduleId, 'maintenance');
    expect(await describeExportSchedule(h.client, scheduleId)).toMatchObject({
      paused: true,
      note: 'maintenance',
    });
    const unpaused = await cli('schedule', 'unpause', '--id', scheduleId);
    expect(unpaused.exitCode).toBe(0);
    expect((await describeExportSchedule(h.client, scheduleId)).paused).toBe(false);
    expect((await cli('schedule', 'delete', '--id', scheduleId)).exitCode).toBe(0);
    await expect(describeExportSchedule(h.client, scheduleId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

/** The outcome of the n-th run the schedule started (the starter workflow). */
async function starterOutcome(id: string, index: number): Promise<ScheduledExportOutcome> {
  const action = await eventually(
    async () => (await describeExportSchedule(h.client, id)).recentActions[index],
  );
  return (await h.client.workflow.getHandle(action.workflowId).result()) as ScheduledExportOutcome;
}
