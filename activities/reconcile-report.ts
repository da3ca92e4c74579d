/**
 * The reconciliation report (docs/operations.md, "Reconciliation report"): one CSV per run under
 * DATA_DIR. Rows stream to a temporary file as the comparison finds them (a day can hold far
 * more differences than fit in memory or history); the file is renamed into place only once
 * complete, so a reader never sees half a report. The counts by kind and the samples that go
 * back to the workflow in the summary are kept here too.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { stringify, type Stringifier } from 'csv-stringify';
import { DIFFERENCE_KINDS, ReconcileKind, type ReconcileRow, type ReconcileTotals } from '../domain';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../common/data-dir';

/** The report's columns, in order (docs/operations.md, "Reconciliation report"). */
export const RECONCILE_CSV_COLUMNS = [
  'date',
  'kind',
  'transaction_id',
  'customer',
  'service_invoice_number',
  'imt_invoice_number',
  'service_amount_cents',
  'imt_amount_cents',
  'service_status',
  'imt_status',
  'detail',
] as const;

const SAMPLE_SIZE = 20;

export function reportPathFor(dataDir: string, date: string, reportName: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(reportName))
    throw new Error(`invalid report name ${JSON.stringify(reportName)}`);
  return path.join(dataDir, 'reconciliations', date, `${reportName}.csv`);
}

export class ReconcileReport {
  readonly byKind: Partial<Record<ReconcileKind, number>> = {};
  private readonly sample: ReconcileRow[] = [];
  private readonly inFlightSample: ReconcileRow[] = [];

  private constructor(
    readonly reportPath: string,
    private readonly tmpPath: string,
    private readonly date: string,
    private readonly file: fs.WriteStream,
    private readonly csv: Stringifier,
  ) {}

  /** Opens the temporary file of this attempt (`attempt` keeps a retry's file apart). */
  static open(dataDir: string, date: string, reportName: string, attempt: number): ReconcileReport {
    const reportPath = reportPathFor(dataDir, date, reportName);
    fs.mkdirSync(path.dirname(reportPath), { recursive: true, mode: PRIVATE_DIR_MODE });
    const tmpPath = `${reportPath}.${process.pid}.${attempt}.tmp`;
    const file = fs.createWriteStream(tmpPath, { mode: PRIVATE_FILE_MODE });
    const csv = stringify({ header: true, columns: [...RECONCILE_CSV_COLUMNS] });
    csv.pipe(file);
    return new ReconcileReport(reportPath, tmpPath, date, file, csv);
  }

  async writeRow(row: ReconcileRow): Promise<void> {
    this.byKind[row.kind] = (this.byKind[row.kind] ?? 0) + 1;
    const keep = row.kind === ReconcileKind.IN_FLIGHT ? this.inFlightSample : this.sample;
    if (keep.length < SAMPLE_SIZE) keep.push(row);
    if (!this.csv.write({ date: this.date, ...row })) await once(this.csv, 'drain');
  }

  /** Writes the TOTAL_* lines, closes the file and moves it into place. */
  async finish(service: ReconcileTotals, imt: ReconcileTotals): Promise<void> {
    for (const [name, key] of [
      ['TOTAL_DELIVERED', 'deliveredCents'],
      ['TOTAL_POSTED', 'postedCents'],
      ['TOTAL_REVERSED', 'reversedCents'],
      ['TOTAL_NET', 'netCents'],
    ] as const) {
      const line = {
        date: this.date,
        kind: name,
        service_amount_cents: service[key],
        imt_amount_cents: imt[key],
      };
      if (!this.csv.write(line)) await once(this.csv, 'drain');
    }
    this.csv.end();
    await finished(this.file);
    fs.renameSync(this.tmpPath, this.reportPath);
  }

  get differences(): number {
    return DIFFERENCE_KINDS.reduce((n, k) => n + (this.byKind[k] ?? 0), 0);
  }

  /** Differences first, then in-flight transactions, at most SAMPLE_SIZE in all. */
  samples(): ReconcileRow[] {
    return [...this.sample, ...this.inFlightSample].slice(0, SAMPLE_SIZE);
  }
}
