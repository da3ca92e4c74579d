/**
 * The export's files under DATA_DIR: where a cycle's work lives, the listing pages saved
 * for a resumed attempt, the finished result, and publishing the built file under its
 * content-derived name. Why pages are kept on disk: activities/export.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { invoiceFileName, type BifBuildResult } from '../integrations/bif';
import { ImtInvoicePageSchema, type ImtInvoicePage } from '../integrations/imt-types';
import type { ExportFileRef } from '../domain';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../common/data-dir';

/** Where a cycle's export lives under DATA_DIR. */
export function exportPaths(dataDir: string, cycle: string, runId: string) {
  const cycleDir = path.join(dataDir, 'exports', cycle);
  const runDir = path.join(cycleDir, 'runs', runId);
  return {
    cycleDir,
    runsDir: path.join(cycleDir, 'runs'),
    runDir,
    pagesDir: path.join(runDir, 'pages'),
    /** Per attempt, for the same reason as writeFileAtomic's temporary names. */
    buildFile: (attempt: number) => path.join(runDir, `invoices.attempt-${attempt}.txt`),
    resultFile: path.join(runDir, 'result.json'),
    page: (n: number) => path.join(runDir, 'pages', `${String(n).padStart(6, '0')}.jsonl`),
  };
}

export type ExportPaths = ReturnType<typeof exportPaths>;

function temporaryName(file: string): string {
  return `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Write-then-rename: a reader (the next attempt) sees the whole file or none of it. The
 * temporary name is unique because an attempt the server already timed out may still be
 * running next to its retry until its next heartbeat tells it so.
 */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = temporaryName(file);
  await writeFile(tmp, data, { mode: PRIVATE_FILE_MODE });
  await rename(tmp, file);
}

/** Hashes the file through one reused 64 KB buffer: no garbage per chunk (see UPLOAD_CHUNK_BYTES). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(64 * 1024);
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The extraction's earlier result when a previous attempt finished but could not report it. */
export async function finishedResult(paths: ExportPaths): Promise<ExportFileRef | undefined> {
  let ref: ExportFileRef;
  try {
    ref = JSON.parse(await readFile(paths.resultFile, 'utf8')) as ExportFileRef;
  } catch {
    return undefined;
  }
  try {
    return (await sha256OfFile(ref.filePath)) === ref.sha256 ? ref : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Saves a listing page as JSON lines: the page's `count`/`next`/`previous`, then one
 * invoice per line. One JSON text for the whole page would be a string of a few hundred
 * KB (two bytes per character once a name has an accent) in V8's large-object space on
 * every page; small lines die young. Written under a unique name, then renamed.
 */
export async function savePage(file: string, page: ImtInvoicePage): Promise<void> {
  const lines = [
    JSON.stringify({ count: page.count, next: page.next ?? null, previous: page.previous ?? null }),
  ];
  for (const invoice of page.results) lines.push(JSON.stringify(invoice));
  const tmp = temporaryName(file);
  const handle = await open(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.writev(lines.map((line) => Buffer.from(`${line}\n`, 'utf8')));
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** A saved listing page, or undefined when it is absent or unreadable (then it is fetched again). */
export async function savedPage(paths: ExportPaths, n: number): Promise<ImtInvoicePage | undefined> {
  let text: string;
  try {
    text = await readFile(paths.page(n), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const [head, ...invoices] = text.split('\n').filter((line) => line !== '');
    const page: unknown = {
      ...JSON.parse(head),
      results: invoices.map((line) => JSON.parse(line) as unknown),
    };
    const parsed = ImtInvoicePageSchema.safeParse(page);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Before an attempt extracts: a first attempt of this run clears older runs' work of the
 * cycle (failed, terminated: at most one run of `export-<cycle>` exists at a time) and any
 * pages saved with another page size; a resumed attempt keeps its pages.
 */
export async function prepareWorkDir(paths: ExportPaths, runId: string, resuming: boolean): Promise<void> {
  if (!resuming) {
    const others = await readdir(paths.runsDir).catch(() => [] as string[]);
    await Promise.all(
      others
        .filter((d) => d !== runId)
        .map((d) => rm(path.join(paths.runsDir, d), { recursive: true, force: true })),
    );
    await rm(paths.pagesDir, { recursive: true, force: true });
  }
  await mkdir(paths.pagesDir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Moves the built file under its name (cycle + sha256) and records the result; then the
 * pages and the leftovers of crashed attempts go. Same name ⇒ same sha256 ⇒ same bytes:
 * replacing a file of an earlier run changes nothing.
 */
export async function publishFile(
  paths: ExportPaths,
  cycle: string,
  built: BifBuildResult,
  listing: { listedCount: number; pages: number; filesSentBefore: number },
): Promise<ExportFileRef> {
  const fileName = invoiceFileName(cycle, built.sha256);
  const filePath = path.join(paths.cycleDir, fileName);
  const rejectedPath = `${filePath}.rejected.jsonl`;
  await rename(built.filePath, filePath);
  await rename(built.rejectedPath, rejectedPath);
  const ref: ExportFileRef = {
    filePath,
    fileName,
    sha256: built.sha256,
    bytes: built.bytes,
    invoiceCount: built.invoiceCount,
    totalAmount: built.totalAmount,
    rejectedCount: built.rejectedCount,
    rejectedPath,
    rejectedSample: built.rejectedSample,
    sanitizedCount: built.sanitizedCount,
    listedCount: listing.listedCount,
    pages: listing.pages,
    notBillableCount: built.notBillableCount,
    alreadySentCount: built.alreadySentCount,
    filesSentBefore: listing.filesSentBefore,
  };
  // The completion marker first, then the pages: a crash in between costs nothing.
  await writeFileAtomic(paths.resultFile, JSON.stringify(ref));
  await rm(paths.pagesDir, { recursive: true, force: true });
  const leftovers = (await readdir(paths.runDir)).filter((f) => f.startsWith('invoices.attempt-'));
  await Promise.all(leftovers.map((f) => rm(path.join(paths.runDir, f), { force: true })));
  return ref;
}
