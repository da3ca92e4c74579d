/**
 * The export Schedule on the real dev server: create/update/describe/pause/unpause/
 * trigger/delete, and that its action exports the cycle of the *scheduled* time, once.
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
  ExportStatus,
  SA,
  taskQueuesOf,
  workflowIds,
  type ExportResult,
  type ScheduledExportOutcome,
} from '../../domain';
import { harnessContext, runCli } from '../helpers/cli';
import { eventually, startHarness, type Harness } from '../helpers/harness';

const TIME_ZONE = 'America/Chicago';
/** The cycle a trigger now exports (the month of "now" in Chicago). */
const CURRENT_CYCLE = cycleOfInstant(new Date(), TIME_ZONE);
/** A past month reached through a backfill: proves the cycle comes from the scheduled time. */
const BACKFILL_CYCLE = '2021-06-01';

let h: Harness;
const scheduleId = `export-billing-cycles-test-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  h = await startHarness({
    name: 'schedule',
    withIc: true,
    cycles: [
      { seed: 3, invoiceMonth: CURRENT_CYCLE, count: 25, invalidEvery: 0 },
      { seed: 5, invoiceMonth: BACKFILL_CYCLE, count: 15, invalidEvery: 0 },
    ],
  });
});
afterAll(async () => {
  await deleteExportSchedule(h.client, scheduleId).catch(() => undefined);
  await h?.stop();
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
      calendar: { dayOfMonth: 1, hour: 6, minute: 0 },
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindowMs: 3 * 24 * 3600 * 1000,
      // An export belongs to the bulk pool (domain/task-queues.ts).
      taskQueue: taskQueuesOf(h.taskQueue).bulk,
      workflowType: 'scheduledExportWorkflow',
      input: { timeZone: TIME_ZONE, cycleMonthOffset: 0, approvalRequired: false },
    });
    // The next firing is the 1st of a month at 06:00 Chicago (11:00 or 12:00 UTC).
    expect(view.nextActionTimes[0]).toMatch(/^\d{4}-\d{2}-01T1[12]:00:00\.000Z$/);

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
      calendar: { dayOfMonth: 1, hour: 7, minute: 30 },
      paused: true,
    });

    expect((await cli('schedule', 'update', '--id', scheduleId, '--hour', '24')).exitCode).toBe(2);
    expect(
      (await cli('schedule', 'update', '--id', scheduleId, '--time-zone', 'Mars/Olympus')).exitCode,
    ).toBe(2);
    expect((await cli('schedule', 'describe', '--id', 'no-such-schedule')).exitCode).toBe(3);
  });

  it('trigger exports the current cycle once; a second trigger starts nothing', async () => {
    await triggerExportSchedule(h.client, scheduleId);
    const exportId = workflowIds.export(CURRENT_CYCLE);
    const result = (await eventually(async () => {
      const handle = h.client.workflow.getHandle(exportId);
      const d = await handle.describe();
      return d.status.name === 'COMPLETED' ? handle.result() : undefined;
    })) as ExportResult;
    expect(result).toMatchObject({ cycle: CURRENT_CYCLE, invoiceCount: 25, icInvoiceCount: 25 });
    const desc = await h.client.workflow.getHandle(exportId).describe();
    expect(desc.typedSearchAttributes.get(SA.BillingCycle)).toBe(CURRENT_CYCLE);
    expect(desc.typedSearchAttributes.get(SA.ExportStatus)).toBe(ExportStatus.UPLOADED);

    const first = await starterOutcome(0);
    expect(first).toMatchObject({ cycle: CURRENT_CYCLE, workflowId: exportId, started: true });

    const triggered = await cli('schedule', 'trigger', '--id', scheduleId);
    expect(triggered.exitCode).toBe(0);
    const second = await starterOutcome(1);
    expect(second).toMatchObject({ cycle: CURRENT_CYCLE, started: false });
    expect(h.ic!.uploads().filter((u) => u.fileName.startsWith(`invoices_${CURRENT_CYCLE}_`))).toHaveLength(
      1,
    );
  });

  it('derives the cycle from the scheduled time, not the wall clock (backfill)', async () => {
    // One firing: 2021-06-01 06:00 CDT = 11:00 UTC.
    await h.client.schedule.getHandle(scheduleId).backfill({
      start: new Date('2021-06-01T10:00:00Z'),
      end: new Date('2021-06-01T13:00:00Z'),
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
async function starterOutcome(index: number): Promise<ScheduledExportOutcome> {
  const action = await eventually(
    async () => (await describeExportSchedule(h.client, scheduleId)).recentActions[index],
  );
  return (await h.client.workflow.getHandle(action.workflowId).result()) as ScheduledExportOutcome;
}
