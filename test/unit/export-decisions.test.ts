/**
 * The export's decisions (domain/export.ts, domain/billing-cycle.ts) as tables: which invoices
 * are billable, what a run does once its file is built, when the daily check alerts about an
 * empty cycle, and the day of the month it reads in the biller's zone.
 */
import { describe, expect, it } from 'vitest';
import {
  dayOfMonthIn,
  emptyCycleAlertDue,
  exportDetails,
  nextStepAfterBuild,
  notBillableReason,
  ExportStatus,
  type ExportSummary,
} from '../../domain';
import { ImtState } from '../../simulators/imt/state';
import { cycleCreatedAt, generateCycle } from '../../simulators/imt/dataset';

describe('notBillableReason (contracts C1: only status "F" and sent true)', () => {
  it.each([
    ['F', true, undefined],
    [' F ', true, undefined],
    ['D', true, 'not billable: status "D" is not final ("F")'],
    ['f', true, 'not billable: status "f" is not final ("F")'],
    [null, true, 'not billable: status null is not final ("F")'],
    [undefined, true, 'not billable: status null is not final ("F")'],
    ['F', false, 'not billable: IMT has not sent it to the customer (sent false)'],
    ['F', null, 'not billable: IMT has not sent it to the customer (sent null)'],
    ['F', 'true', 'not billable: IMT has not sent it to the customer (sent "true")'],
    ['F', 1, 'not billable: IMT has not sent it to the customer (sent 1)'],
    // A draft is reported as a draft, whatever `sent` says.
    ['D', false, 'not billable: status "D" is not final ("F")'],
  ])('status %j, sent %j → %j', (status, sent, expected) => {
    expect(notBillableReason(status, sent)).toBe(expected);
  });
});

describe('nextStepAfterBuild', () => {
  it.each([
    [5, 0, 'upload'],
    [5, 2, 'upload'],
    [0, 0, 'empty'],
    [0, 1, 'up-to-date'],
  ] as const)('%i rows, %i files sent before → %s', (invoiceCount, filesSentBefore, step) => {
    expect(nextStepAfterBuild({ invoiceCount, filesSentBefore })).toBe(step);
  });
});

describe('emptyCycleAlertDue', () => {
  it.each([
    [ExportStatus.EMPTY, 9, 10, false],
    [ExportStatus.EMPTY, 10, 10, true],
    [ExportStatus.EMPTY, 28, 10, true],
    [ExportStatus.UP_TO_DATE, 28, 10, false],
    [ExportStatus.UPLOADED, 28, 10, false],
    [ExportStatus.FAILED, 28, 10, false],
    [undefined, 28, 10, false],
    [ExportStatus.EMPTY, 1, 1, true],
  ])('%s on day %i (alert from day %i) → %s', (status, day, alertDay, due) => {
    expect(emptyCycleAlertDue(status, day, alertDay)).toBe(due);
  });
});

describe('dayOfMonthIn', () => {
  it.each([
    ['2022-10-04T11:00:00Z', 'America/Chicago', 4],
    // 02:00 UTC on the 1st is still the evening of the last day in Chicago.
    ['2022-10-01T02:00:00Z', 'America/Chicago', 30],
    ['2022-09-30T21:00:00Z', 'Asia/Tokyo', 1],
  ])('%s in %s → %i', (iso, tz, day) => {
    expect(dayOfMonthIn(new Date(iso), tz)).toBe(day);
  });
});

describe('exportDetails (the Temporal UI)', () => {
  const summary: ExportSummary = {
    cycle: '2022-09-01',
    status: ExportStatus.EMPTY,
    approvalRequired: false,
    force: false,
    pageSize: 250,
    startedAt: '2022-10-01T11:00:00Z',
    events: [],
  };
  it('says an empty cycle was not exported', () => {
    expect(exportDetails(summary)).toContain('**EMPTY** · billing cycle 2022-09-01');
    expect(exportDetails(summary)).toContain('nothing sent, the cycle is not exported');
  });
});

describe('IMT simulator: a cycle appears on the 3rd of the next month', () => {
  it('dates the invoices like the seed sample (2022-09-01 → created 2022-10-03)', () => {
    expect(cycleCreatedAt('2022-09-01').created).toBe('2022-10-03T16:41:40-05:00');
    expect(cycleCreatedAt('2022-12-01').created).toBe('2023-01-03T16:41:40-05:00');
    const first = generateCycle({ seed: 1, invoiceMonth: '2022-09-01', count: 1 }).invoiceAt(0);
    expect(first).toMatchObject({ status: 'F', sent: true, created: '2022-10-03T16:41:40-05:00' });
  });

  it('lists no invoice of the cycle before IMT creates them', () => {
    const state = new ImtState([generateCycle({ seed: 1, invoiceMonth: '2022-09-01', count: 3 })]);
    state.setClock(new Date('2022-10-03T21:00:00Z')); // 16:00 Central: not yet
    expect(state.monthSize('2022-09-01')).toBe(0);
    state.setClock(new Date('2022-10-03T21:42:00Z')); // 16:42 Central
    expect(state.monthSize('2022-09-01')).toBe(3);
    state.addInvoice({
      invoice_number: '999920220901',
      customer: '9999',
      amount_due: '5.00',
      created: '2022-10-20T09:00:00-05:00',
    });
    expect(state.monthSize('2022-09-01')).toBe(3);
    state.setClock(new Date('2022-10-21T00:00:00Z'));
    expect(state.monthSize('2022-09-01')).toBe(4);
  });
});
