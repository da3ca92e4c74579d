/**
 * The cycle's ledger of files IC accepted: `DATA_DIR/exports/<cycle>/sent/<fileName>.json`,
 * one record per file, written by the upload activity right after IC's Success. A later run
 * of the cycle reads the invoice numbers of those files (their first column) and leaves them
 * out: a late invoice goes in a follow-up file and no row is sent twice.
 *
 * Why on disk, next to the files: the numbers are needed where the files are (every worker
 * of the task queue shares DATA_DIR, activities/export.ts), a cycle has up to 100,000 of them
 * (never through history), and a record per file name makes a repeated upload (IC
 * deduplicates it) rewrite the same record instead of adding one.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ApplicationFailure } from '@temporalio/common';
import { ExportFailureType, type SentFileRecord } from '../domain';
import { writeFileAtomic } from './export-files';

const SentFileRecordSchema = z.object({
  cycle: z.string(),
  fileName: z.string(),
  filePath: z.string(),
  sha256: z.string(),
  invoiceCount: z.number().int().nonnegative(),
  totalAmount: z.string(),
  uploadedAt: z.string(),
});

export function ledgerDir(dataDir: string, cycle: string): string {
  return path.join(dataDir, 'exports', cycle, 'sent');
}

export async function recordSentFile(dataDir: string, record: SentFileRecord): Promise<void> {
  const dir = ledgerDir(dataDir, record.cycle);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, `${record.fileName}.json`), JSON.stringify(record));
}

/** The files sent for `cycle`, oldest first. A record that cannot be read stops the export (never guess). */
export async function sentFiles(dataDir: string, cycle: string): Promise<SentFileRecord[]> {
  const dir = ledgerDir(dataDir, cycle);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const records = await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      const parsed = SentFileRecordSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (!parsed.success)
        throw new Error(`ledger record ${file} is not valid: ${z.prettifyError(parsed.error)}`);
      return parsed.data;
    }),
  );
  return records.sort((a, b) => a.uploadedAt.localeCompare(b.uploadedAt));
}

/**
 * The invoice numbers (first column, header skipped) of every file in `files`. A sent file
 * that is gone stops the export for good: guessing which rows IC holds could send one twice.
 */
export async function sentInvoiceNumbers(files: readonly SentFileRecord[]): Promise<Set<string>> {
  const numbers = new Set<string>();
  for (const file of files) {
    try {
      const lines = createInterface({ input: createReadStream(file.filePath, 'utf8'), crlfDelay: Infinity });
      let header = true;
      for await (const line of lines) {
        if (!header && line !== '') numbers.add(line.slice(0, line.indexOf('|')));
        header = false;
      }
    } catch (err) {
      throw ApplicationFailure.create({
        type: ExportFailureType.ExportFileMissing,
        nonRetryable: true,
        message: `cannot read ${file.filePath}, sent to IC for cycle ${file.cycle} at ${file.uploadedAt}, to leave its invoices out: ${(err as Error).message}. Restore it (workers must share DATA_DIR), or send every invoice again with --force`,
      });
    }
  }
  return numbers;
}
