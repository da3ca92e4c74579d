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
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { buildInvoiceFile } from '../integrations/bif';
import {
  isBillingCycle,
  EXPORT_MAX_PAGE_SIZE,
  ExportFailureType,
  notBillableReason,
  type ExportFileRef,
  type ExtractCursor,
  type ExtractInvoicesInput,
  type UploadInvoiceFileInput,
  type UploadOutcome,
} from '../domain';
import { icRefusalFailure, toActivityFailure } from './errors';
import type { ActivityDeps, ExportStage } from './deps';
import {
  exportPaths,
  finishedResult,
  isMissingFile,
  prepareWorkDir,
  publishFile,
  sha256OfFile,
} from './export-files';
import { ListingReader } from './export-listing';
import { recordSentFile, sentFiles, sentInvoiceNumbers } from './export-ledger';

export { exportPaths } from './export-files';

const ExtractInputSchema = z
  .object({
    cycle: z.string().refine(isBillingCycle, 'must be a billing cycle YYYY-MM-01'),
    pageSize: z.number().int().min(1).max(EXPORT_MAX_PAGE_SIZE),
    resend: z.boolean(),
  })
  .strict();

const UploadInputSchema = z
  .object({
    filePath: z.string().min(1),
    fileName: z.string().regex(/^[A-Za-z0-9._-]+\.txt$/, 'must be a plain .txt file name'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256'),
    ledger: z
      .object({
        cycle: z.string().refine(isBillingCycle, 'must be a billing cycle YYYY-MM-01'),
        invoiceCount: z.number().int().nonnegative(),
        totalAmount: z.string(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Shape of the heartbeat details (`ExtractCursor`); the client reads them back for progress. */
export const ExtractCursorSchema = z.object({
  v: z.literal(1),
  phase: z.enum(['extracting', 'done']),
  pageSize: z.number().int().positive(),
  totalCount: z.number().int().nonnegative().nullable(),
  totalPages: z.number().int().nonnegative().nullable(),
  pagesDone: z.number().int().nonnegative(),
  invoicesRead: z.number().int().nonnegative(),
});

/** The heartbeat cursor an attempt starts from: a resumed one reports the progress already made. */
function startingCursor(pageSize: number, resumeFrom: ExtractCursor | undefined): ExtractCursor {
  return {
    v: 1,
    phase: 'extracting',
    pageSize,
    totalCount: resumeFrom?.totalCount ?? null,
    totalPages: resumeFrom?.totalPages ?? null,
    pagesDone: resumeFrom?.pagesDone ?? 0,
    invoicesRead: resumeFrom?.invoicesRead ?? 0,
  };
}

/** The file to upload must be the one built (and approved): same sha256, still on this worker. */
async function checkFileUnchanged(filePath: string, sha256: string): Promise<void> {
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
}

/** Why over 80 lines: a factory returning the export's two activities (each timed), each under 80. */
export function createExportActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  return {
    /**
     * Pages IMT's listing of `cycle` into the invoice file and its rejected-rows report.
     * Heartbeats an `ExtractCursor`; resumes from saved pages (see the top of this file).
     */
    async extractAndBuildInvoiceFile(rawInput: ExtractInvoicesInput): Promise<ExportFileRef> {
      return timedStage(deps, 'build', () => extractAndBuild(rawInput));
    },

    /**
     * Sends the file to IC's UploadInvoiceFile. IC's Success=false is classified by the
     * shared mapping (`icRefusalFailure`): bad credentials → `AuthRejected` (retried slowly),
     * IC busy → `ServiceUnavailable`, anything else → `FileRejected` (final). Transport failures go
     * through the shared mapping and are retried; repeating is safe because IC loads the
     * same FileName + content only once (contracts D).
     */
    async uploadInvoiceFile(rawInput: UploadInvoiceFileInput): Promise<UploadOutcome> {
      const outcome = await timedStage(deps, 'upload', () => upload(rawInput));
      deps.metrics?.scheduledJobSucceeded?.set('export');
      return outcome;
    },
  };

  async function extractAndBuild(rawInput: ExtractInvoicesInput): Promise<ExportFileRef> {
    const parsedInput = ExtractInputSchema.safeParse(rawInput);
    if (!parsedInput.success) {
      throw ApplicationFailure.create({
        type: ExportFailureType.InvalidExportInput,
        nonRetryable: true,
        message: `invalid extraction input: ${z.prettifyError(parsedInput.error)}`,
      });
    }
    const { cycle, pageSize, resend } = parsedInput.data;
    const ctx = Context.current();
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
    await prepareWorkDir(paths, runId, resumeFrom !== undefined);
    if (resumeFrom) {
      log.info(
        { pagesDoneBefore: resumeFrom.pagesDone, totalPages: resumeFrom.totalPages },
        'resuming the extraction from the saved listing pages',
      );
    }
    // Read before the listing: what earlier files of the cycle hold is never sent again.
    const ledger = await sentFiles(deps.dataDir, cycle);
    const alreadySent = resend ? undefined : await sentInvoiceNumbers(ledger);
    const cursor = startingCursor(pageSize, resumeFrom);
    ctx.heartbeat(cursor);
    const listing = new ListingReader({
      ctx,
      imt: deps.imt,
      mapping,
      cycle,
      pageSize,
      paths,
      cursor,
      pagesMayBeSaved: resumeFrom !== undefined,
    });
    const built = await buildInvoiceFile({
      pages: listing.pages(),
      filePath: paths.buildFile(ctx.info.attempt),
      dateFormat: deps.bifDateFormat,
      onProgress: () => ctx.heartbeat(cursor),
      alreadySent,
      notBillable: (inv) => notBillableReason(inv.status, inv.sent),
    });
    if (resumeFrom && listing.reused < resumeFrom.pagesDone) {
      log.warn(
        { pagesDoneBefore: resumeFrom.pagesDone, reused: listing.reused },
        'fewer saved pages than the last heartbeat reported: the work directory was lost (another machine?)',
      );
    }
    const ref = await publishFile(paths, cycle, built, {
      listedCount: listing.listedCount ?? 0,
      pages: listing.totalPages,
      filesSentBefore: resend ? 0 : ledger.length,
    });
    cursor.phase = 'done';
    ctx.heartbeat(cursor);
    const { fileName, invoiceCount, rejectedCount, totalAmount, notBillableCount, alreadySentCount } = ref;
    log.info(
      {
        fileName,
        invoiceCount,
        rejectedCount,
        totalAmount,
        notBillableCount,
        alreadySentCount,
        filesSentBefore: ref.filesSentBefore,
        pagesFetched: listing.fetched,
        pagesReused: listing.reused,
      },
      'export file built',
    );
    deps.metrics?.exportInvoices?.add(ref.invoiceCount, ref.rejectedCount);
    return ref;
  }

  async function upload(rawInput: UploadInvoiceFileInput): Promise<UploadOutcome> {
    const parsed = UploadInputSchema.safeParse(rawInput);
    if (!parsed.success) {
      throw ApplicationFailure.create({
        type: ExportFailureType.InvalidExportInput,
        nonRetryable: true,
        message: `invalid upload input: ${z.prettifyError(parsed.error)}`,
      });
    }
    const { filePath, fileName, sha256, ledger } = parsed.data;
    if (!deps.ic) {
      throw ApplicationFailure.create({
        type: 'ConfigurationError',
        nonRetryable: true,
        message: 'this worker has no Invoice Cloud client configured',
      });
    }
    const ctx = Context.current();

    // What was built (and approved) is what goes: the file may have sat on disk for days.
    await checkFileUnchanged(filePath, sha256);

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
    const uploadedAt = new Date().toISOString();
    // Before the activity completes: a crash after IC's Success repeats the upload (IC loads
    // it once) and rewrites the same record, so the ledger never misses a file IC holds.
    if (ledger) await recordSentFile(deps.dataDir, { ...ledger, fileName, filePath, sha256, uploadedAt });
    return { icInvoiceCount: result.invoiceCount, uploadedAt };
  }
}

/** Runs one export stage attempt and records its duration and outcome. */
async function timedStage<T>(deps: ActivityDeps, stage: ExportStage, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const done = (outcome: 'ok' | 'error') =>
    deps.metrics?.exportStage?.done(stage, outcome, (performance.now() - started) / 1000);
  try {
    const result = await run();
    done('ok');
    return result;
  } catch (err) {
    done('error');
    throw err;
  }
}
