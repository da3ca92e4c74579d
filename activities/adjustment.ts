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
import { FailureType } from '../workflows/messages';
import { toActivityFailure } from './errors';
import type { ActivityDeps } from './index';

export interface BalanceSyncResult {
  invoiceNumber: string;
  balanceDue: string;
  pastDue: string;
  fileName: string;
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
        throw ApplicationFailure.create({
          type: FailureType.FileRejected,
          nonRetryable: true,
          message: `IC refused the balance update for ${invoiceNumber}: ${result.errorMessage}`,
        });
      deps.logger.info({ invoiceNumber, balanceDue: detail.amount_due }, 'invoice balance sent to IC');
      return { invoiceNumber, balanceDue: detail.amount_due, pastDue: detail.past_due ?? '0.00', fileName };
    },
  };
}
