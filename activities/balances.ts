/**
 * Balance refresh (issue 12 item 3): IMT's live balance (detail call) of every invoice of a
 * cycle against what IC shows (ViewInvoiceByInvoiceNumber), at a configured rate; the
 * invoices that differ go to IC in one invoice file (the export's builder and upload).
 *
 * Nothing per invoice reaches workflow history: differences are written as JSON lines under
 * DATA_DIR and the activity returns counts, a sample and the file reference. Progress is the
 * activity's heartbeat (`BalanceRefreshCursor`). Comparing is read-only, so a retry after a
 * crash simply compares again.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { buildInvoiceFile } from '../integrations/bif';
import type { InvoiceCloudClient, ViewInvoiceResult } from '../integrations/ic-client';
import type { ImtListedInvoice } from '../integrations/imt-types';
import type {
  BalanceComparison,
  BalanceDifference,
  BalanceRefreshCursor,
  BalanceVerification,
} from '../domain';
import { toActivityFailure, type FailureMappingOptions } from './errors';
import type { ActivityDeps } from './deps';
import { DEFAULT_IC_BALANCE_CHECK, noIc, sameAmount, viewIcInvoice } from './ic-balance';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../common/data-dir';

const PAGE_SIZE = 250;
const SAMPLE = 20;

type Balance = BalanceDifference['imt'];

/** At most `perSecond` starts per second; waits (cancellably) when called faster. */
function pacer(perSecond: number, signal: AbortSignal): () => Promise<void> {
  const gapMs = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = Date.now();
    const wait = next - now;
    next = Math.max(now, next) + gapMs;
    if (wait > 0) await Context.current().sleep(wait);
    if (signal.aborted) throw signal.reason;
  };
}

/** The balance IC shows (a blank past-due amount is zero), or null when IC does not know the invoice. */
function shownBy(view: ViewInvoiceResult): Balance | null {
  return view.success ? { balanceDue: view.balanceDue, pastDue: view.pastDue || '0.00' } : null;
}

function sameBalance(shown: Balance | null, imt: Balance): boolean {
  return (
    shown !== null && sameAmount(shown.balanceDue, imt.balanceDue) && sameAmount(shown.pastDue, imt.pastDue)
  );
}

function checkRate(ratePerSecond: number): void {
  if (!(ratePerSecond > 0 && ratePerSecond <= 1000))
    throw ApplicationFailure.create({
      type: 'InvalidRefreshInput',
      nonRetryable: true,
      message: `ratePerSecond must be between 0 and 1000, got ${ratePerSecond}`,
    });
}

/** The run key as it may appear in a path or an IC file name. */
const runKeyPart = (runKey: string) => runKey.replace(/[^A-Za-z0-9-]/g, '');

/**
 * One paced pass over a cycle's invoices: IMT's live balance (detail call) against what IC
 * shows. Each difference is written to `differences` (JSON lines) and counted in `cursor`,
 * the activity's heartbeat.
 */
class CycleComparison {
  readonly cursor: BalanceRefreshCursor = { phase: 'comparing', compared: 0, total: null, differing: 0 };
  readonly sample: BalanceDifference[] = [];
  notInIc = 0;
  private readonly ctx = Context.current();
  private readonly signal = this.ctx.cancellationSignal;
  private readonly imtPace: () => Promise<void>;
  private readonly icPace: () => Promise<void>;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly ic: InvoiceCloudClient,
    private readonly cycle: string,
    ratePerSecond: number,
    private readonly differences: WriteStream,
    private readonly mapping: FailureMappingOptions,
  ) {
    this.imtPace = pacer(ratePerSecond, this.signal);
    this.icPace = pacer(ratePerSecond, this.signal);
  }

  /** The rows to send: the listed invoice with IMT's live balance, for each that differs. */
  async *differing(): AsyncGenerator<ImtListedInvoice> {
    for (let page = 1; ; page += 1) {
      const res = await this.callImt(() =>
        this.deps.imt.listInvoices({ invoiceMonth: this.cycle, page, pageSize: PAGE_SIZE }, this.signal),
      );
      this.cursor.total = res.count;
      for (const listed of res.results) {
        const number = listed.invoice_number ?? '';
        if (!number) continue;
        const row = await this.compareOne(listed, number);
        if (row) yield row;
        this.ctx.heartbeat(this.cursor);
      }
      if (!res.next) return;
    }
  }

  private async callImt<T>(send: () => Promise<T>): Promise<T> {
    await this.imtPace();
    try {
      return await send();
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason;
      throw toActivityFailure(err, this.mapping);
    }
  }

  /** The invoice's row with IMT's live balance when IC shows another one; else undefined. */
  private async compareOne(listed: ImtListedInvoice, number: string): Promise<ImtListedInvoice | undefined> {
    const detail = await this.callImt(() => this.deps.imt.getInvoiceDetail(number, this.signal));
    await this.icPace();
    const shown = shownBy(await viewIcInvoice(this.ic, number, this.signal, this.mapping));
    const imt = { balanceDue: detail.amount_due ?? '0.00', pastDue: detail.past_due ?? '0.00' };
    this.cursor.compared += 1;
    if (sameBalance(shown, imt)) return undefined;
    this.cursor.differing += 1;
    if (shown === null) this.notInIc += 1;
    const difference: BalanceDifference = { invoice_number: number, imt, ic: shown };
    if (this.sample.length < SAMPLE) this.sample.push(difference);
    if (!this.differences.write(`${JSON.stringify(difference)}\n`)) await once(this.differences, 'drain');
    return { ...listed, amount_due: imt.balanceDue, past_due: imt.pastDue };
  }
}

/** The update file as the workflow needs it to upload (and IC to deduplicate a retry). */
async function updateFileOf(filePath: string, fileName: string, invoiceCount: number) {
  const bytes = await fs.readFile(filePath);
  return {
    filePath,
    fileName,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    invoiceCount,
  };
}

async function readDifferences(differencesPath: string): Promise<BalanceDifference[]> {
  const open: BalanceDifference[] = [];
  const lines = createInterface({ input: createReadStream(differencesPath), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim()) open.push(JSON.parse(line) as BalanceDifference);
  return open;
}

interface CompareInput {
  cycle: string;
  runKey: string;
  ratePerSecond: number;
}

/** Compares the cycle; the differing invoices become one update file (absent when none differ). */
async function compareCycle(
  deps: ActivityDeps,
  input: CompareInput,
  mapping: FailureMappingOptions,
): Promise<BalanceComparison> {
  const ic = deps.ic ?? noIc();
  checkRate(input.ratePerSecond);
  const dir = path.join(deps.dataDir, 'balances', input.cycle, runKeyPart(input.runKey));
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const differencesPath = path.join(dir, 'differences.jsonl');
  const differences = createWriteStream(differencesPath, { mode: PRIVATE_FILE_MODE });
  const run = new CycleComparison(deps, ic, input.cycle, input.ratePerSecond, differences, mapping);
  const filePath = path.join(dir, `refresh_${input.cycle}.txt`);
  let built;
  try {
    built = await buildInvoiceFile({
      invoices: run.differing(),
      filePath,
      dateFormat: deps.bifDateFormat,
    });
  } finally {
    differences.end();
    await once(differences, 'close');
  }
  const comparison: BalanceComparison = {
    cycle: input.cycle,
    compared: run.cursor.compared,
    differing: run.cursor.differing,
    notInIc: run.notInIc,
    unsendable: built.rejectedCount,
    differencesPath,
    sample: run.sample,
  };
  // Its name is stable per run (retries of the upload are deduplicated by IC), unique per run.
  if (built.invoiceCount > 0)
    comparison.file = await updateFileOf(
      filePath,
      `refresh_${input.cycle}_${runKeyPart(input.runKey)}.txt`,
      built.invoiceCount,
    );
  deps.logger.info({ ...comparison, sample: undefined }, 'cycle balances compared');
  return comparison;
}

export function createBalanceActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  return {
    async compareCycleBalances(input: CompareInput): Promise<BalanceComparison> {
      return compareCycle(deps, input, mapping);
    },

    /**
     * Asks IC until it shows IMT's balance for every difference sent (IC loads files
     * asynchronously): rounds `icBalanceCheck.intervalMs` apart, at most `attempts` rounds,
     * each round asking only for those not yet shown.
     */
    async verifyRefreshedBalances(input: {
      differencesPath: string;
      ratePerSecond: number;
    }): Promise<BalanceVerification> {
      const ic = deps.ic ?? noIc();
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      const icPace = pacer(input.ratePerSecond, signal);
      const { intervalMs, attempts } = deps.icBalanceCheck ?? DEFAULT_IC_BALANCE_CHECK;
      let open = await readDifferences(input.differencesPath);
      const total = open.length;
      for (let round = 1; open.length > 0; round += 1) {
        const still: BalanceDifference[] = [];
        for (const d of open) {
          await icPace();
          const shown = shownBy(await viewIcInvoice(ic, d.invoice_number, signal, mapping));
          if (!sameBalance(shown, d.imt)) still.push({ ...d, ic: shown });
        }
        ctx.heartbeat({ round, open: still.length });
        open = still;
        if (open.length === 0 || round >= attempts) break;
        await ctx.sleep(intervalMs);
      }
      return { verified: total - open.length, stillDifferent: open.length, sample: open.slice(0, SAMPLE) };
    },
  };
}
