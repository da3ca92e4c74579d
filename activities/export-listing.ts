/**
 * Reading IMT's listing of one cycle (contracts C1) a page at a time for the file builder:
 * saved pages first (a resumed attempt), IMT for the rest, one page loaded ahead so IMT's
 * latency overlaps the writing, every page checked against the listing as page 1 described
 * it, and the heartbeat cursor kept current.
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { rm } from 'node:fs/promises';
import { HttpCallError } from '../integrations/http';
import type { ImtClient } from '../integrations/imt-client';
import type { ImtInvoicePage, ImtListedInvoice } from '../integrations/imt-types';
import { ExportFailureType, type ExtractCursor } from '../domain';
import { toActivityFailure, type FailureMappingOptions } from './errors';
import { savePage, savedPage, type ExportPaths } from './export-files';

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

function listingChanged(cycle: string, detail: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ExportFailureType.CycleListingChanged,
    nonRetryable: false,
    message: `IMT's listing of cycle ${cycle} changed while it was being read (${detail}); the extraction starts over`,
  });
}

type Loaded = { page: ImtInvoicePage; saved: boolean };

export class ListingReader {
  fetched = 0;
  reused = 0;
  /** IMT's count for the pages in hand; every page of one file must agree on it. */
  listedCount: number | undefined;
  totalPages = 0;
  private invoicesRead = 0;
  /** Pages being loaded ahead of the builder. */
  private readonly ahead = new Map<number, Promise<Loaded>>();

  constructor(
    private readonly o: {
      ctx: Context;
      imt: ImtClient;
      mapping: FailureMappingOptions;
      cycle: string;
      pageSize: number;
      paths: ExportPaths;
      cursor: ExtractCursor;
      /** Without a cursor the pages directory was just emptied: nothing to look for. */
      pagesMayBeSaved: boolean;
    },
  ) {}

  /**
   * The listing a page at a time (the builder maps a page without an await per invoice).
   * Only the page being written and the one loading ahead are referenced.
   */
  async *pages(): AsyncGenerator<readonly ImtListedInvoice[]> {
    const { cursor, ctx } = this.o;
    this.loadAhead(1, 1);
    for (let n = 1; ; n++) {
      const { page, saved } = await this.ahead.get(n)!;
      this.ahead.delete(n);
      await this.check(n, page, saved);
      const last = n >= this.totalPages;
      this.loadAhead(n + 1, Math.min(this.totalPages, n + PAGES_AHEAD));
      cursor.pagesDone = Math.max(cursor.pagesDone, n);
      this.invoicesRead += page.results.length;
      if (this.invoicesRead > cursor.invoicesRead) cursor.invoicesRead = this.invoicesRead;
      ctx.heartbeat(cursor);
      yield page.results;
      if (last) return;
    }
  }

  private loadAhead(from: number, to: number): void {
    for (let p = from; p <= to; p++) {
      if (this.ahead.has(p)) continue;
      const loading = this.load(p);
      // Observed when the builder reaches page p; a failure must not go unhandled meanwhile.
      loading.catch(() => undefined);
      this.ahead.set(p, loading);
    }
  }

  private async load(n: number): Promise<Loaded> {
    const saved = this.o.pagesMayBeSaved ? await savedPage(this.o.paths, n) : undefined;
    if (saved) {
      this.reused += 1;
      return { page: saved, saved: true };
    }
    return { page: await this.fetch(n), saved: false };
  }

  private async fetch(n: number): Promise<ImtInvoicePage> {
    const { ctx, imt, cycle, pageSize, mapping, cursor } = this.o;
    const signal = ctx.cancellationSignal;
    signal.throwIfAborted();
    let page: ImtInvoicePage | undefined;
    for (let retry = 0; !page; retry++) {
      try {
        page = await imt.listInvoices({ invoiceMonth: cycle, page: n, pageSize }, signal);
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
    this.fetched += 1;
    await savePage(this.o.paths.page(n), page);
    return page;
  }

  /** Checks one page against the listing as the first page described it. */
  private async check(n: number, page: ImtInvoicePage, saved: boolean): Promise<void> {
    const { cursor, pageSize } = this.o;
    if (this.listedCount === undefined) {
      this.listedCount = page.count;
      this.totalPages = Math.max(1, Math.ceil(page.count / pageSize));
      cursor.totalCount = page.count;
      cursor.totalPages = this.totalPages;
    }
    const listedCount = this.listedCount;
    const expectedRows = Math.max(0, Math.min(pageSize, listedCount - (n - 1) * pageSize));
    const isLast = n >= this.totalPages;
    const problem =
      page.count !== listedCount
        ? `count ${page.count} on page ${n}, ${listedCount} before`
        : page.results.length !== expectedRows
          ? `${page.results.length} invoices on page ${n}, expected ${expectedRows}`
          : Boolean(page.next) === isLast
            ? `page ${n} of ${this.totalPages} ${isLast ? 'has' : 'has no'} next page`
            : undefined;
    if (!problem) return;
    // Saved pages from an earlier listing are stale: drop them all so the retry reads one
    // consistent listing from page 1 — after the loads still under way, which would
    // otherwise save a stale page behind the clean-up.
    await Promise.allSettled(this.ahead.values());
    await rm(this.o.paths.pagesDir, { recursive: true, force: true });
    // The last heartbeat before a failure reaches the retry: make it say "nothing done".
    this.o.ctx.heartbeat({ ...cursor, totalCount: null, totalPages: null, pagesDone: 0, invoicesRead: 0 });
    throw listingChanged(this.o.cycle, `${problem}${saved ? ', saved page' : ''}`);
  }
}
