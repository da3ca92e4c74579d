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
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { buildInvoiceFile } from '../integrations/bif';
import type { ImtListedInvoice } from '../integrations/imt-types';
import type {
  BalanceComparison,
  BalanceDifference,
  BalanceRefreshCursor,
  BalanceVerification,
} from '../domain';
import { DEFAULT_IC_BALANCE_CHECK, sameAmount } from './ic-balance';
import { classifyIcRefusal, icRefusalFailure, toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';

const PAGE_SIZE = 250;
const SAMPLE = 20;
export const DEFAULT_REFRESH_RATE = 10;

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

function noIc(): never {
  throw ApplicationFailure.create({
    type: 'ConfigurationError',
    nonRetryable: true,
    message: 'this worker has no Invoice Cloud client configured',
  });
}

export function createBalanceActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  return {
    async compareCycleBalances(input: {
      cycle: string;
      runKey: string;
      ratePerSecond: number;
    }): Promise<BalanceComparison> {
      const ic = deps.ic ?? noIc();
      if (!(input.ratePerSecond > 0 && input.ratePerSecond <= 1000))
        throw ApplicationFailure.create({
          type: 'InvalidRefreshInput',
          nonRetryable: true,
          message: `ratePerSecond must be between 0 and 1000, got ${input.ratePerSecond}`,
        });
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      const imtPace = pacer(input.ratePerSecond, signal);
      const icPace = pacer(input.ratePerSecond, signal);
      const dir = path.join(
        deps.dataDir,
        'balances',
        input.cycle,
        input.runKey.replace(/[^A-Za-z0-9-]/g, ''),
      );
      await fs.mkdir(dir, { recursive: true });
      const differencesPath = path.join(dir, 'differences.jsonl');
      const differences = createWriteStream(differencesPath);
      const cursor: BalanceRefreshCursor = { phase: 'comparing', compared: 0, total: null, differing: 0 };
      const sample: BalanceDifference[] = [];
      let notInIc = 0;

      const call = async <T>(pace: () => Promise<void>, send: () => Promise<T>): Promise<T> => {
        await pace();
        try {
          return await send();
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          throw toActivityFailure(err, mapping);
        }
      };

      /** The rows to send: the listed invoice with IMT's live balance, for each that differs. */
      async function* differing(): AsyncGenerator<ImtListedInvoice> {
        for (let page = 1; ; page += 1) {
          const res = await call(imtPace, () =>
            deps.imt.listInvoices({ invoiceMonth: input.cycle, page, pageSize: PAGE_SIZE }, signal),
          );
          cursor.total = res.count;
          for (const listed of res.results) {
            const number = listed.invoice_number ?? '';
            if (!number) continue;
            const detail = await call(imtPace, () => deps.imt.getInvoiceDetail(number, signal));
            const view = await call(icPace, () => ic.viewInvoiceByInvoiceNumber(number, signal));
            if (
              !view.success &&
              classifyIcRefusal('ViewInvoiceByInvoiceNumber', view.errorMessage) !== 'not-found'
            )
              throw icRefusalFailure('ViewInvoiceByInvoiceNumber', view.errorMessage, mapping, number);
            const imt = { balanceDue: detail.amount_due ?? '0.00', pastDue: detail.past_due ?? '0.00' };
            const shown = view.success
              ? { balanceDue: view.balanceDue, pastDue: view.pastDue || '0.00' }
              : null;
            cursor.compared += 1;
            const same =
              shown !== null &&
              sameAmount(shown.balanceDue, imt.balanceDue) &&
              sameAmount(shown.pastDue, imt.pastDue);
            if (!same) {
              cursor.differing += 1;
              if (shown === null) notInIc += 1;
              const difference: BalanceDifference = { invoice_number: number, imt, ic: shown };
              if (sample.length < SAMPLE) sample.push(difference);
              if (!differences.write(`${JSON.stringify(difference)}\n`)) await once(differences, 'drain');
              yield { ...listed, amount_due: imt.balanceDue, past_due: imt.pastDue };
            }
            ctx.heartbeat(cursor);
          }
          if (!res.next) return;
        }
      }

      const filePath = path.join(dir, `refresh_${input.cycle}.txt`);
      let built;
      try {
        built = await buildInvoiceFile({ invoices: differing(), filePath, dateFormat: deps.bifDateFormat });
      } finally {
        differences.end();
        await once(differences, 'close');
      }
      const comparison: BalanceComparison = {
        cycle: input.cycle,
        compared: cursor.compared,
        differing: cursor.differing,
        notInIc,
        unsendable: built.rejectedCount,
        differencesPath,
        sample,
      };
      if (built.invoiceCount > 0) {
        const bytes = await fs.readFile(filePath);
        comparison.file = {
          filePath,
          // Stable per run (retries of the upload are deduplicated by IC), unique per run.
          fileName: `refresh_${input.cycle}_${input.runKey.replace(/[^A-Za-z0-9-]/g, '')}.txt`,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          bytes: bytes.length,
          invoiceCount: built.invoiceCount,
        };
      }
      deps.logger.info({ ...comparison, sample: undefined }, 'cycle balances compared');
      return comparison;
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
      let open: BalanceDifference[] = [];
      const lines = createInterface({ input: createReadStream(input.differencesPath), crlfDelay: Infinity });
      for await (const line of lines) if (line.trim()) open.push(JSON.parse(line) as BalanceDifference);
      const total = open.length;
      for (let round = 1; open.length > 0; round += 1) {
        const still: BalanceDifference[] = [];
        for (const d of open) {
          await icPace();
          let view;
          try {
            view = await ic.viewInvoiceByInvoiceNumber(d.invoice_number, signal);
          } catch (err) {
            if (signal.aborted) throw signal.reason;
            throw toActivityFailure(err, mapping);
          }
          if (
            !view.success &&
            classifyIcRefusal('ViewInvoiceByInvoiceNumber', view.errorMessage) !== 'not-found'
          )
            throw icRefusalFailure(
              'ViewInvoiceByInvoiceNumber',
              view.errorMessage,
              mapping,
              d.invoice_number,
            );
          const shown = view.success
            ? { balanceDue: view.balanceDue, pastDue: view.pastDue || '0.00' }
            : null;
          const same =
            shown !== null &&
            sameAmount(shown.balanceDue, d.imt.balanceDue) &&
            sameAmount(shown.pastDue, d.imt.pastDue);
          if (!same) still.push({ ...d, ic: shown });
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
