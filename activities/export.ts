/**
 * Export activities: page a billing cycle out of IMT (contracts C1) into the invoice file
 * (contracts E, integrations/bif.ts), then upload it to IC (contracts D).
 *
 * Only references cross into workflow history: paths under DATA_DIR, counts, the sha256.
 *
 * Resume after a crash — why the listing pages are kept on disk:
 * the file must be byte-identical to a one-shot build, and the builder's state (the
 * invoice numbers already written for the duplicate rule, totals, the rejected rows)
 * lives in one streaming pass. So every listing page is saved, as IMT answered it (after
 * validation), under `exports/<cycle>/runs/<runId>/pages/` before its invoices reach the
 * builder, and the heartbeat carries the cursor (pages done, invoices read, IMT's count).
 * A retried attempt rebuilds the file in one pass from the saved pages and fetches from
 * IMT only the pages that were not saved yet. Local re-reading costs ~1 s per 100,000
 * invoices; re-fetching is what costs IMT load and minutes.
 *
 * Heartbeats are throttled (at most one reaches the server every 80 % of the heartbeat
 * timeout), so the saved pages can be ahead of the last recorded cursor: every saved page
 * is used, and the cursor serves to report progress and to notice a lost work directory
 * (a retry on another machine without a shared DATA_DIR starts over, correctly).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { buildInvoiceFile, invoiceFileName } from '../integrations/bif';
import { HttpCallError } from '../integrations/http';
import { ImtInvoicePageSchema, type ImtInvoicePage, type ImtListedInvoice } from '../integrations/imt-types';
import { isBillingCycle, EXPORT_MAX_PAGE_SIZE, ExportFailureType, type ExportFileRef, type ExtractCursor, type ExtractInvoicesInput, type UploadInvoiceFileInput, type UploadOutcome } from '../domain';
import { icRefusalFailure, toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';

const ExtractInputSchema = z
  .object({
    cycle: z.string().refine(isBillingCycle, 'must be a billing cycle YYYY-MM-01'),
    pageSize: z.number().int().min(1).max(EXPORT_MAX_PAGE_SIZE),
  })
  .strict();

const UploadInputSchema = z
  .object({
    filePath: z.string().min(1),
    fileName: z.string().regex(/^[A-Za-z0-9._-]+\.txt$/, 'must be a plain .txt file name'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256'),
  })
  .strict();

/** Shape of the heartbeat details (`ExtractCursor`); the client reads them back for progress. */
/**
 * Listing pages requested ahead of the one being written. Measured on 100,000 invoices:
 * three ahead cost ~60 MB more peak RSS than one, for no clear gain in speed.
 */
const PAGES_AHEAD = 1;
/**
 * A listing page IMT fails transiently (5xx, 429, unreachable) is asked again here a few
 * times before the attempt fails: the activity's own backoff grows across attempts even while
 * pages come in, so at 20% 5xx a 20,000-invoice export crawled (the chaos run). GET is safe
 * to repeat; the waits stay well inside the heartbeat timeout.
 */
const PAGE_RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000];
const PAGE_RETRY_AFTER_MAX_MS = 10_000;

export const ExtractCursorSchema = z.object({
  v: z.literal(1),
  phase: z.enum(['extracting', 'done']),
  pageSize: z.number().int().positive(),
  totalCount: z.number().int().nonnegative().nullable(),
  totalPages: z.number().int().nonnegative().nullable(),
  pagesDone: z.number().int().nonnegative(),
  invoicesRead: z.number().int().nonnegative(),
});

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

type ExportPaths = ReturnType<typeof exportPaths>;

function temporaryName(file: string): string {
  return `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Write-then-rename: a reader (the next attempt) sees the whole file or none of it. The
 * temporary name is unique because an attempt the server already timed out may still be
 * running next to its retry until its next heartbeat tells it so.
 */
async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = temporaryName(file);
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** Hashes the file through one reused 64 KB buffer: no garbage per chunk (see UPLOAD_CHUNK_BYTES). */
async function sha256OfFile(file: string): Promise<string> {
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

function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The extraction's earlier result when a previous attempt finished but could not report it. */
async function finishedResult(paths: ExportPaths): Promise<ExportFileRef | undefined> {
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
async function savePage(file: string, page: ImtInvoicePage): Promise<void> {
  const lines = [
    JSON.stringify({ count: page.count, next: page.next ?? null, previous: page.previous ?? null }),
  ];
  for (const invoice of page.results) lines.push(JSON.stringify(invoice));
  const tmp = temporaryName(file);
  const handle = await open(tmp, 'w');
  try {
    await handle.writev(lines.map((line) => Buffer.from(`${line}\n`, 'utf8')));
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** A saved listing page, or undefined when it is absent or unreadable (then it is fetched again). */
async function savedPage(paths: ExportPaths, n: number): Promise<ImtInvoicePage | undefined> {
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

function listingChanged(cycle: string, detail: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ExportFailureType.CycleListingChanged,
    nonRetryable: false,
    message: `IMT's listing of cycle ${cycle} changed while it was being read (${detail}); the extraction starts over`,
  });
}

export function createExportActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  return {
    /**
     * Pages IMT's listing of `cycle` into the invoice file and its rejected-rows report.
     * Heartbeats an `ExtractCursor`; resumes from saved pages (see the top of this file).
     */
    async extractAndBuildInvoiceFile(rawInput: ExtractInvoicesInput): Promise<ExportFileRef> {
      const parsedInput = ExtractInputSchema.safeParse(rawInput);
      if (!parsedInput.success) {
        throw ApplicationFailure.create({
          type: ExportFailureType.InvalidExportInput,
          nonRetryable: true,
          message: `invalid extraction input: ${z.prettifyError(parsedInput.error)}`,
        });
      }
      const { cycle, pageSize } = parsedInput.data;
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      // The run owns the work directory: a retried attempt of the same run finds its pages.
      const runId = ctx.info.workflowExecution?.runId ?? ctx.info.activityId;
      const paths = exportPaths(deps.dataDir, cycle, runId);
      const log = deps.logger.child({ cycle, workflowRunId: runId, attempt: ctx.info.attempt });

      const earlier = await finishedResult(paths);
      if (earlier) {
        log.info({ fileName: earlier.fileName }, 'export file was already built by an earlier attempt');
        return earlier;
      }

      const previous = ExtractCursorSchema.safeParse(ctx.info.heartbeatDetails);
      const resumeFrom = previous.success && previous.data.pageSize === pageSize ? previous.data : undefined;
      if (!resumeFrom) {
        // First attempt of this run: older runs' work directories of this cycle (failed,
        // terminated) can go. At most one run of `export-<cycle>` exists at a time.
        const others = await readdir(paths.runsDir).catch(() => [] as string[]);
        await Promise.all(
          others
            .filter((d) => d !== runId)
            .map((d) => rm(path.join(paths.runsDir, d), { recursive: true, force: true })),
        );
        // A different page size cannot reuse pages saved with another one.
        await rm(paths.pagesDir, { recursive: true, force: true });
      }
      await mkdir(paths.pagesDir, { recursive: true });

      const cursor: ExtractCursor = {
        v: 1,
        phase: 'extracting',
        pageSize,
        totalCount: resumeFrom?.totalCount ?? null,
        totalPages: resumeFrom?.totalPages ?? null,
        // A resumed attempt re-reads the saved pages first; it reports the progress
        // already made rather than starting again from zero.
        pagesDone: resumeFrom?.pagesDone ?? 0,
        invoicesRead: resumeFrom?.invoicesRead ?? 0,
      };
      ctx.heartbeat(cursor);
      let invoicesRead = 0;

      let fetched = 0;
      let reused = 0;
      /** IMT's count for the pages in hand; every page of one file must agree on it. */
      let listedCount: number | undefined;
      let totalPages = 0;

      const fetchPage = async (n: number): Promise<ImtInvoicePage> => {
        signal.throwIfAborted();
        let page: ImtInvoicePage | undefined;
        for (let retry = 0; !page; retry++) {
          try {
            page = await deps.imt.listInvoices({ invoiceMonth: cycle, page: n, pageSize }, signal);
          } catch (err) {
            if (signal.aborted) throw signal.reason;
            const failure = toActivityFailure(err, mapping);
            const wait = PAGE_RETRY_DELAYS_MS[retry];
            const retryAfterMs = err instanceof HttpCallError ? (err.retryAfterMs ?? 0) : 0;
            if (failure.nonRetryable || wait === undefined || retryAfterMs > PAGE_RETRY_AFTER_MAX_MS)
              throw failure;
            ctx.heartbeat(cursor);
            await ctx.sleep(Math.max(wait, retryAfterMs));
          }
        }
        fetched += 1;
        await savePage(paths.page(n), page);
        return page;
      };

      // Without a cursor the pages directory was just emptied: nothing to look for.
      const pagesMayBeSaved = resumeFrom !== undefined;
      const loadPage = async (n: number): Promise<{ page: ImtInvoicePage; saved: boolean }> => {
        const saved = pagesMayBeSaved ? await savedPage(paths, n) : undefined;
        if (saved) {
          reused += 1;
          return { page: saved, saved: true };
        }
        return { page: await fetchPage(n), saved: false };
      };

      /** Pages being loaded ahead of the builder, so IMT's latency overlaps the writing. */
      const ahead = new Map<number, Promise<{ page: ImtInvoicePage; saved: boolean }>>();
      const loadAhead = (from: number, to: number) => {
        for (let p = from; p <= to; p++) {
          if (ahead.has(p)) continue;
          const loading = loadPage(p);
          // Observed when the builder reaches page p; a failure must not go unhandled meanwhile.
          loading.catch(() => undefined);
          ahead.set(p, loading);
        }
      };

      /** Checks one page against the listing as the first page described it. */
      const checkPage = async (n: number, page: ImtInvoicePage, saved: boolean): Promise<void> => {
        if (listedCount === undefined) {
          listedCount = page.count;
          totalPages = Math.max(1, Math.ceil(page.count / pageSize));
          cursor.totalCount = page.count;
          cursor.totalPages = totalPages;
        }
        const expectedRows = Math.max(0, Math.min(pageSize, listedCount - (n - 1) * pageSize));
        const isLast = n >= totalPages;
        const problem =
          page.count !== listedCount
            ? `count ${page.count} on page ${n}, ${listedCount} before`
            : page.results.length !== expectedRows
              ? `${page.results.length} invoices on page ${n}, expected ${expectedRows}`
              : Boolean(page.next) === isLast
                ? `page ${n} of ${totalPages} ${isLast ? 'has' : 'has no'} next page`
                : undefined;
        if (problem) {
          // Saved pages from an earlier listing are stale: drop them all so the retry
          // reads one consistent listing from page 1 — after the loads still under way,
          // which would otherwise save a stale page behind the clean-up.
          await Promise.allSettled(ahead.values());
          await rm(paths.pagesDir, { recursive: true, force: true });
          // The last heartbeat before a failure reaches the retry: make it say "nothing done".
          ctx.heartbeat({ ...cursor, totalCount: null, totalPages: null, pagesDone: 0, invoicesRead: 0 });
          throw listingChanged(cycle, `${problem}${saved ? ', saved page' : ''}`);
        }
      };

      /**
       * The listing a page at a time (the builder maps a page without an await per invoice).
       * Only the page being written and the one loading ahead are referenced.
       */
      async function* pages(): AsyncGenerator<readonly ImtListedInvoice[]> {
        loadAhead(1, 1);
        for (let n = 1; ; n++) {
          const { page, saved } = await ahead.get(n)!;
          ahead.delete(n);
          await checkPage(n, page, saved);
          const last = n >= totalPages;
          loadAhead(n + 1, Math.min(totalPages, n + PAGES_AHEAD));
          cursor.pagesDone = Math.max(cursor.pagesDone, n);
          invoicesRead += page.results.length;
          if (invoicesRead > cursor.invoicesRead) cursor.invoicesRead = invoicesRead;
          ctx.heartbeat(cursor);
          yield page.results;
          if (last) return;
        }
      }

      if (resumeFrom) {
        log.info(
          { pagesDoneBefore: resumeFrom.pagesDone, totalPages: resumeFrom.totalPages },
          'resuming the extraction from the saved listing pages',
        );
      }

      const built = await buildInvoiceFile({
        pages: pages(),
        filePath: paths.buildFile(ctx.info.attempt),
        dateFormat: deps.bifDateFormat,
        onProgress: () => ctx.heartbeat(cursor),
      });

      if (resumeFrom && reused < resumeFrom.pagesDone) {
        log.warn(
          { pagesDoneBefore: resumeFrom.pagesDone, reused },
          'fewer saved pages than the last heartbeat reported: the work directory was lost (another machine?)',
        );
      }

      const fileName = invoiceFileName(cycle, built.sha256);
      const filePath = path.join(paths.cycleDir, fileName);
      const rejectedPath = `${filePath}.rejected.jsonl`;
      // Same name ⇒ same sha256 ⇒ same bytes: replacing a file of an earlier run changes nothing.
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
        listedCount: listedCount ?? 0,
        pages: totalPages,
      };
      // The completion marker first, then the pages: a crash in between costs nothing.
      await writeFileAtomic(paths.resultFile, JSON.stringify(ref));
      await rm(paths.pagesDir, { recursive: true, force: true });
      // Leftovers of attempts that crashed mid-build (their `.partial` files).
      const leftovers = (await readdir(paths.runDir)).filter((f) => f.startsWith('invoices.attempt-'));
      await Promise.all(leftovers.map((f) => rm(path.join(paths.runDir, f), { force: true })));
      cursor.phase = 'done';
      ctx.heartbeat(cursor);
      log.info(
        {
          fileName,
          invoiceCount: ref.invoiceCount,
          rejectedCount: ref.rejectedCount,
          totalAmount: ref.totalAmount,
          pagesFetched: fetched,
          pagesReused: reused,
        },
        'export file built',
      );
      return ref;
    },

    /**
     * Sends the file to IC's UploadInvoiceFile. IC's Success=false is classified by the
     * shared mapping (`icRefusalFailure`): bad credentials → `AuthRejected` (retried slowly),
     * IC busy → `ServiceUnavailable`, anything else → `FileRejected` (final). Transport failures go
     * through the shared mapping and are retried; repeating is safe because IC loads the
     * same FileName + content only once (contracts D).
     */
    async uploadInvoiceFile(rawInput: UploadInvoiceFileInput): Promise<UploadOutcome> {
      const parsed = UploadInputSchema.safeParse(rawInput);
      if (!parsed.success) {
        throw ApplicationFailure.create({
          type: ExportFailureType.InvalidExportInput,
          nonRetryable: true,
          message: `invalid upload input: ${z.prettifyError(parsed.error)}`,
        });
      }
      const { filePath, fileName, sha256 } = parsed.data;
      if (!deps.ic) {
        throw ApplicationFailure.create({
          type: 'ConfigurationError',
          nonRetryable: true,
          message: 'this worker has no Invoice Cloud client configured',
        });
      }
      const ctx = Context.current();

      // What was built (and approved) is what goes: the file may have sat on disk for days.
      let actual: string;
      try {
        actual = await sha256OfFile(filePath);
      } catch (err) {
        throw ApplicationFailure.create({
          type: ExportFailureType.ExportFileMissing,
          nonRetryable: true,
          message: isMissingFile(err)
            ? `invoice file ${filePath} is not on this worker: workers of one task queue must share DATA_DIR`
            : `cannot read invoice file ${filePath}: ${(err as Error).message}`,
        });
      }
      if (actual !== sha256) {
        throw ApplicationFailure.create({
          type: ExportFailureType.ExportFileChanged,
          nonRetryable: true,
          message: `invoice file ${filePath} changed since it was built (sha256 ${actual.slice(0, 12)}…, expected ${sha256.slice(0, 12)}…)`,
        });
      }

      let result;
      try {
        result = await deps.ic.uploadInvoiceFile({ fileName, filePath, signal: ctx.cancellationSignal });
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        throw toActivityFailure(err, mapping);
      }
      if (!result.success) {
        deps.logger.warn({ fileName, icError: result.errorMessage }, 'IC answered Success=false');
        throw icRefusalFailure('UploadInvoiceFile', result.errorMessage, mapping, `invoice file ${fileName}`);
      }
      deps.logger.info({ fileName, icInvoiceCount: result.invoiceCount }, 'invoice file uploaded to IC');
      return { icInvoiceCount: result.invoiceCount, uploadedAt: new Date().toISOString() };
    },
  };
}
