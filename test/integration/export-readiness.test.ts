/**
 * When a billing cycle is exported, on the real dev server: the IMT simulator creates the
 * cycle's invoices on the 3rd of the next month (contracts C1), so a run before then finds
 * nothing (EMPTY: nothing uploaded, started again without --force), the first run after sends
 * the cycle's file once, late invoices go in a follow-up file with only their rows, and drafts
 * and invoices IMT has not sent never reach IC. Assertions are on what the IC simulator holds.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportReport, startExport } from '../../client/exports';
import { registerExportCommands } from '../../client/cli/export-commands';
import { generateCycle } from '../../simulators/imt/dataset';
import { BIF_COLUMNS } from '../../integrations/bif';
import { ExportStatus, type ExportResult } from '../../domain';
import { startAlertedHarness, stopAlertedHarness } from '../helpers/alerted-harness';
import type { SlackAlertSink } from '../helpers/slack-alerts';
import { harnessContext, runCli } from '../helpers/cli';
import { exportProbes } from '../helpers/export-probes';
import { eventually, type Harness } from '../helpers/harness';

/** A cycle no other test file uses (workflow IDs are namespace-wide). */
const CYCLE = { seed: 41, invoiceMonth: '2031-05-01', count: 12, invalidEvery: 0 };
const C = CYCLE.invoiceMonth;
const DRAFT = '770120310501';
const UNSENT = '770220310501';
const LATE = '770320310501';

let h: Harness;
let slack: SlackAlertSink;

beforeAll(async () => {
  ({ h, slack } = await startAlertedHarness({ name: 'export-ready', withIc: true, cycles: [CYCLE] }));
});
afterAll(() => stopAlertedHarness(h, slack));

const { statusAttr, uploadsOf } = exportProbes(() => h);
const cli = (...args: string[]) =>
  runCli((program) => registerExportCommands(program, harnessContext(h)), args);
/** IMT's clock: what its listing holds depends on it. */
const imtNow = (iso: string) => h.imt.setClock(new Date(iso));
const inIc = (invoiceNumber: string) => h.ic!.invoices().has(invoiceNumber);
const rowsOf = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\r\n')
    .slice(1, -1)
    .map((row) => row.split('|')[0]);

describe('when a billing cycle is exported', () => {
  it('uploads nothing for an empty cycle, then sends the file once its invoices are there, and never a draft or an unsent invoice', async () => {
    // June 2nd: IMT has only a draft and an invoice it has not sent for the May cycle.
    imtNow('2031-06-02T12:00:00Z');
    const early = { customer_detail: { customer_name: 'Early Bird' }, invoice_month: C };
    h.imt.addInvoice({
      ...early,
      invoice_number: DRAFT,
      customer: '7701',
      amount_due: '10.00',
      status: 'D',
      created: '2031-06-01T09:00:00-05:00',
    });
    h.imt.addInvoice({
      ...early,
      invoice_number: UNSENT,
      customer: '7702',
      amount_due: '11.00',
      sent: false,
      created: '2031-06-01T09:00:00-05:00',
    });

    const empty = await cli('export', 'start', C, '--wait');
    expect(empty.exitCode).toBe(4);
    expect(empty.err).toContain(
      `billing cycle ${C} has no billable invoice yet (2 drafts or not sent by IMT`,
    );
    expect(empty.err).toContain('nothing was uploaded and the cycle is not exported');
    expect(await statusAttr(C)).toBe(ExportStatus.EMPTY);
    expect(uploadsOf(C)).toHaveLength(0);
    // The report says why each invoice was left out, and that nothing was sent.
    const emptyReport = await exportReport(h.client, C);
    expect(emptyReport.files).toEqual([]);
    expect(emptyReport.rejected).toEqual([
      {
        invoice_number: DRAFT,
        customer_id: '7701',
        reasons: ['not billable: status "D" is not final ("F")'],
      },
      {
        invoice_number: UNSENT,
        customer_id: '7702',
        reasons: ['not billable: IMT has not sent it to the customer (sent false)'],
      },
    ]);

    // June 4th: IMT created the cycle's invoices on the 3rd. Started again without --force.
    imtNow('2031-06-04T11:00:00Z');
    const first = (await startExport(h.client, h.taskQueue, { cycle: C, wait: true })).result as ExportResult;
    expect(first).toMatchObject({
      status: ExportStatus.UPLOADED,
      followUp: false,
      invoiceCount: 12,
      notBillableCount: 2,
      icInvoiceCount: 12,
    });
    for (const invoice of generateCycle(CYCLE)) expect(inIc(invoice.invoice_number)).toBe(true);
    expect(inIc(DRAFT)).toBe(false);
    expect(inIc(UNSENT)).toBe(false);

    // Started again the same day: nothing new, nothing sent.
    const again = (await startExport(h.client, h.taskQueue, { cycle: C, wait: true })).result;
    expect(again).toMatchObject({ status: ExportStatus.UP_TO_DATE, invoiceCount: 0, alreadySentCount: 12 });
    expect(uploadsOf(C).map((u) => u.invoiceCount)).toEqual([12]);
  });

  it('sends late and newly finalised invoices in a follow-up file with only their rows; none twice', async () => {
    // June 10th: IMT adds a late invoice and finalises the draft; the unsent one stays unsent.
    imtNow('2031-06-10T20:00:00Z');
    h.imt.addInvoice({
      invoice_number: LATE,
      customer: '7703',
      amount_due: '12.50',
      invoice_month: C,
      created: '2031-06-10T09:00:00-05:00',
    });
    h.imt.addInvoice({
      invoice_number: DRAFT,
      customer: '7701',
      amount_due: '10.00',
      invoice_month: C,
      status: 'F',
      created: '2031-06-01T09:00:00-05:00',
    });

    const followUp = (await startExport(h.client, h.taskQueue, { cycle: C, wait: true }))
      .result as ExportResult;
    expect(followUp).toMatchObject({
      status: ExportStatus.UPLOADED,
      followUp: true,
      filesSentBefore: 1,
      alreadySentCount: 12,
      notBillableCount: 1,
      invoiceCount: 2,
      totalAmount: '22.50',
      icInvoiceCount: 2,
    });
    expect((await rowsOf(followUp.filePath)).sort()).toEqual([DRAFT, LATE]);
    expect((await readFile(followUp.filePath, 'utf8')).startsWith(BIF_COLUMNS.join('|'))).toBe(true);
    // Every row reached IC exactly once: the files' rows add up to the distinct invoices IC holds.
    const uploads = uploadsOf(C);
    expect(uploads.map((u) => ({ rows: u.invoiceCount, duplicate: u.duplicate }))).toEqual([
      { rows: 12, duplicate: false },
      { rows: 2, duplicate: false },
    ]);
    const cycleInvoices = [...h.ic!.invoices().values()].filter((i) => i.invoiceNumber.endsWith('20310501'));
    expect(cycleInvoices).toHaveLength(14);
    expect(h.ic!.invoices().get(LATE)?.loadedFrom).toBe(followUp.fileName);
    expect(inIc(UNSENT)).toBe(false);
  });

  it('`export report` lists every file sent for the cycle with its rows and totals', async () => {
    const report = await eventually(async () => {
      const r = await exportReport(h.client, C);
      return r.files.length === 2 ? r : undefined;
    });
    expect(report.files.map((f) => ({ rows: f.invoiceCount, followUp: f.followUp }))).toEqual([
      { rows: 12, followUp: false },
      { rows: 2, followUp: true },
    ]);
    expect(report.filesTotal.invoiceCount).toBe(14);
    expect(report.filesTotal.totalAmount).toBe(
      (report.files.reduce((sum, f) => sum + Math.round(Number(f.totalAmount) * 100), 0) / 100).toFixed(2),
    );
    const text = await cli('export', 'report', C);
    expect(text.exitCode).toBe(0);
    expect(text.out).toContain('Files sent: 2');
    expect(text.out).toMatch(/ 2 rows +22\.50 .*follow-up/);
    expect(text.out).toMatch(/total +14 rows/);
  });
});
