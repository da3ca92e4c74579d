/**
 * Balance updates after an invoice changed in IMT (design §4 "Adjustments"; contracts B
 * `…/<invoice_number>/adjusted`). IC's only write call is UploadInvoiceFile (contracts D),
 * so the new balance travels as a one-row invoice file: IC replaces the invoice it holds.
 * The row is the invoice as IMT lists it (C1, for the customer fields the detail lacks)
 * with IMT's *live* balance from the detail call.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { buildInvoiceFile } from '../integrations/bif';
import type { ImtListedInvoice } from '../integrations/imt-types';
import { FailureType, type BalanceCheckResult, type BalanceSyncResult } from '../domain';
import { classifyIcRefusal, icRefusalFailure, toActivityFailure } from './errors';
import type { ActivityDeps } from './deps';

export type { BalanceSyncResult } from '../domain';

/** IC loads files asynchronously: how often and how many times the balance is checked. */
export const DEFAULT_IC_BALANCE_CHECK = { intervalMs: 30_000, attempts: 10 };

/** `"12.5"`, `"12.50"` and `"12.500"` are one amount; anything unparsable never matches. */
function cents(amount: string | null | undefined): number | null {
  const m = /^\s*(-?)(\d+)(?:\.(\d{1,3}))?\s*$/.exec(amount ?? '');
  if (!m) return null;
  const frac = (m[3] ?? '').padEnd(3, '0');
  const milli = Number(m[2]) * 1000 + Number(frac);
  return (m[1] === '-' ? -milli : milli) / 10;
}

export function sameAmount(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = cents(a);
  return x !== null && x === cents(b);
}

const PAGE_SIZE = 1000;

export function createAdjustmentActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  async function findListed(
    invoiceMonth: string,
    invoiceNumber: string,
  ): Promise<ImtListedInvoice | undefined> {
    for (let page = 1; ; page += 1) {
      Context.current().heartbeat({ page });
      const res = await deps.imt.listInvoices({ invoiceMonth, page, pageSize: PAGE_SIZE });
      const hit = res.results.find((inv) => inv.invoice_number === invoiceNumber);
      if (hit) return hit;
      if (!res.next) return undefined;
    }
  }

  return {
    /**
     * `roundKey` is stable across retries of one round and unique per round: a retry is then
     * deduplicated by IC (same FileName + content), while a balance that returns to an
     * earlier value is still loaded (a content-only name would be taken for a repeat).
     */
    async syncInvoiceBalance(invoiceNumber: string, roundKey: string): Promise<BalanceSyncResult> {
      if (!deps.ic)
        throw ApplicationFailure.create({
          type: 'ConfigurationError',
          nonRetryable: true,
          message: 'this worker has no Invoice Cloud client configured',
        });
      let listed: ImtListedInvoice | undefined;
      let detail;
      try {
        detail = await deps.imt.getInvoiceDetail(invoiceNumber, Context.current().cancellationSignal);
        const month = typeof detail.invoice_month === 'string' ? detail.invoice_month : undefined;
        listed = month ? await findListed(month, invoiceNumber) : undefined;
      } catch (err) {
        throw toActivityFailure(err, mapping);
      }
      if (!listed)
        throw ApplicationFailure.create({
          type: FailureType.NotFound,
          nonRetryable: true,
          message: `invoice ${invoiceNumber} is not in IMT's listing of its month; cannot build its row for IC`,
        });
      const row: ImtListedInvoice = {
        ...listed,
        amount_due: detail.amount_due,
        past_due: detail.past_due ?? '0.00',
      };

      const dir = path.join(deps.dataDir, 'adjustments');
      await fs.mkdir(dir, { recursive: true });
      const filePath = path.join(dir, `${invoiceNumber}-${Date.now()}.txt`);
      async function* one() {
        yield row;
      }
      const built = await buildInvoiceFile({ invoices: one(), filePath, dateFormat: deps.bifDateFormat });
      if (built.invoiceCount !== 1) {
        throw ApplicationFailure.create({
          type: 'InvalidInvoice',
          nonRetryable: true,
          message: `invoice ${invoiceNumber} cannot be written for IC: ${built.rejectedSample[0]?.reasons.join('; ') ?? 'unknown'}`,
        });
      }
      const fileName = `adjustment_${invoiceNumber}_${roundKey.replace(/[^A-Za-z0-9-]/g, '')}.txt`;
      let result;
      try {
        result = await deps.ic.uploadInvoiceFile({
          fileName,
          filePath,
          signal: Context.current().cancellationSignal,
        });
      } catch (err) {
        throw toActivityFailure(err, mapping);
      } finally {
        await fs.rm(filePath, { force: true });
        await fs.rm(built.rejectedPath, { force: true });
      }
      if (!result.success)
        throw icRefusalFailure(
          'UploadInvoiceFile',
          result.errorMessage,
          mapping,
          `the balance update for ${invoiceNumber} (${fileName})`,
        );
      deps.logger.info({ invoiceNumber, balanceDue: detail.amount_due }, 'invoice balance sent to IC');
      return { invoiceNumber, balanceDue: detail.amount_due, pastDue: detail.past_due ?? '0.00', fileName };
    },

    /**
     * Asks IC (ViewInvoiceByInvoiceNumber) whether it shows the balance and past-due amount
     * just sent. IC loads files asynchronously, so a different answer (or "not found") is
     * asked again every `icBalanceCheck.intervalMs`, up to `attempts` times, inside this one
     * activity (no history per check); the last answer comes back either way and the
     * workflow decides. IC refusing the call is classified by the shared mapping.
     */
    async checkIcBalance(expected: BalanceSyncResult): Promise<BalanceCheckResult> {
      const ic = deps.ic;
      if (!ic)
        throw ApplicationFailure.create({
          type: 'ConfigurationError',
          nonRetryable: true,
          message: 'this worker has no Invoice Cloud client configured',
        });
      const { intervalMs, attempts } = deps.icBalanceCheck ?? DEFAULT_IC_BALANCE_CHECK;
      const ctx = Context.current();
      for (let checks = 1; ; checks += 1) {
        ctx.heartbeat({ checks });
        let view;
        try {
          view = await ic.viewInvoiceByInvoiceNumber(expected.invoiceNumber, ctx.cancellationSignal);
        } catch (err) {
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
          throw toActivityFailure(err, mapping);
        }
        // "Not found" means IC has not loaded the invoice yet: ask again like a stale balance.
        if (
          !view.success &&
          classifyIcRefusal('ViewInvoiceByInvoiceNumber', view.errorMessage) !== 'not-found'
        )
          throw icRefusalFailure(
            'ViewInvoiceByInvoiceNumber',
            view.errorMessage,
            mapping,
            expected.invoiceNumber,
          );
        const result: BalanceCheckResult = {
          verified:
            view.success &&
            sameAmount(view.balanceDue, expected.balanceDue) &&
            sameAmount(view.pastDue || '0.00', expected.pastDue),
          checks,
          icBalanceDue: view.success ? view.balanceDue : null,
          icPastDue: view.success ? view.pastDue : null,
        };
        if (result.verified || checks >= attempts) {
          deps.logger.info({ invoiceNumber: expected.invoiceNumber, ...result }, 'IC balance checked');
          return result;
        }
        await ctx.sleep(intervalMs);
      }
    },
  };
}
