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
import type { InvoiceCloudClient } from '../integrations/ic-client';
import { FailureType, type BalanceCheckResult, type BalanceSyncResult } from '../domain';
import { icRefusalFailure, toActivityFailure, type FailureMappingOptions } from './errors';
import type { ActivityDeps } from './deps';
import { DEFAULT_IC_BALANCE_CHECK, noIc, sameAmount, viewIcInvoice } from './ic-balance';
import { PRIVATE_DIR_MODE } from '../common/data-dir';

export type { BalanceSyncResult } from '../domain';

const PAGE_SIZE = 1000;

async function findListed(
  deps: ActivityDeps,
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

/** The invoice's row for IC: as IMT lists it in its month, with the live balance of the detail call. */
async function currentRow(deps: ActivityDeps, invoiceNumber: string, mapping: FailureMappingOptions) {
  let listed: ImtListedInvoice | undefined;
  let detail;
  try {
    detail = await deps.imt.getInvoiceDetail(invoiceNumber, Context.current().cancellationSignal);
    const month = typeof detail.invoice_month === 'string' ? detail.invoice_month : undefined;
    listed = month ? await findListed(deps, month, invoiceNumber) : undefined;
  } catch (err) {
    throw toActivityFailure(err, mapping);
  }
  if (!listed)
    throw ApplicationFailure.create({
      type: FailureType.NotFound,
      nonRetryable: true,
      message: `invoice ${invoiceNumber} is not in IMT's listing of its month; cannot build its row for IC`,
    });
  const balance = { balanceDue: detail.amount_due, pastDue: detail.past_due ?? '0.00' };
  const row: ImtListedInvoice = { ...listed, amount_due: balance.balanceDue, past_due: balance.pastDue };
  return { row, ...balance };
}

/** Writes the one-row invoice file under DATA_DIR; an invoice IC cannot take fails for good. */
async function writeOneRowFile(deps: ActivityDeps, invoiceNumber: string, row: ImtListedInvoice) {
  const dir = path.join(deps.dataDir, 'adjustments');
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
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
  return { filePath, rejectedPath: built.rejectedPath };
}

/** Uploads the file under `fileName`, then removes it (and its rejects file) either way. */
async function uploadOnce(
  ic: InvoiceCloudClient,
  file: { filePath: string; rejectedPath: string; fileName: string },
  subject: string,
  mapping: FailureMappingOptions,
): Promise<void> {
  let result;
  try {
    result = await ic.uploadInvoiceFile({
      fileName: file.fileName,
      filePath: file.filePath,
      signal: Context.current().cancellationSignal,
    });
  } catch (err) {
    throw toActivityFailure(err, mapping);
  } finally {
    await fs.rm(file.filePath, { force: true });
    await fs.rm(file.rejectedPath, { force: true });
  }
  if (!result.success) throw icRefusalFailure('UploadInvoiceFile', result.errorMessage, mapping, subject);
}

export function createAdjustmentActivities(deps: ActivityDeps) {
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: false };

  return {
    /**
     * `roundKey` is stable across retries of one round and unique per round: a retry is then
     * deduplicated by IC (same FileName + content), while a balance that returns to an
     * earlier value is still loaded (a content-only name would be taken for a repeat).
     */
    async syncInvoiceBalance(invoiceNumber: string, roundKey: string): Promise<BalanceSyncResult> {
      const ic = deps.ic ?? noIc();
      const { row, balanceDue, pastDue } = await currentRow(deps, invoiceNumber, mapping);
      const file = await writeOneRowFile(deps, invoiceNumber, row);
      const fileName = `adjustment_${invoiceNumber}_${roundKey.replace(/[^A-Za-z0-9-]/g, '')}.txt`;
      await uploadOnce(
        ic,
        { ...file, fileName },
        `the balance update for ${invoiceNumber} (${fileName})`,
        mapping,
      );
      deps.logger.info({ invoiceNumber, balanceDue }, 'invoice balance sent to IC');
      return { invoiceNumber, balanceDue, pastDue, fileName };
    },

    /**
     * Asks IC (ViewInvoiceByInvoiceNumber) whether it shows the balance and past-due amount
     * just sent. IC loads files asynchronously, so a different answer (or "not found") is
     * asked again every `icBalanceCheck.intervalMs`, up to `attempts` times, inside this one
     * activity (no history per check); the last answer comes back either way and the
     * workflow decides. IC refusing the call is classified by the shared mapping.
     */
    async checkIcBalance(expected: BalanceSyncResult): Promise<BalanceCheckResult> {
      const ic = deps.ic ?? noIc();
      const { intervalMs, attempts } = deps.icBalanceCheck ?? DEFAULT_IC_BALANCE_CHECK;
      const ctx = Context.current();
      for (let checks = 1; ; checks += 1) {
        ctx.heartbeat({ checks });
        // "Not found" means IC has not loaded the invoice yet: ask again like a stale balance.
        const view = await viewIcInvoice(ic, expected.invoiceNumber, ctx.cancellationSignal, mapping);
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
