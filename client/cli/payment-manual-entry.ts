/**
 * `payments void` and `payments ach-reject`: a void or an ACH reject entered by hand goes
 * through the ingress endpoints IC itself calls, so it takes the same validated,
 * deduplicated path as one from IC.
 */
import axios from 'axios';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { SA, workflowIds } from '../../domain';
import {
  AchRejectSchema,
  RETURN_CODE,
  VoidPaymentSchema,
  amountSchema,
  fieldErrors,
} from '../ingress/schemas';
import {
  CliError,
  UsageError,
  commandAction,
  ingressIntegratorId,
  parseArgs,
  type CommandContext,
  type ContextProvider,
} from './context';
import { json, type CliIo } from './format';
import { parseId } from './payment-args';
import { describeOrUndefined, readState } from './payment-runs';

export function registerManualEntryCommands(payments: Command, io: CliIo, provider: ContextProvider): void {
  const manual = (cmd: Command) =>
    cmd
      .argument('<transaction_id>', "IC's GUID of the payment")
      .option('--amount <amount>', 'amount, e.g. 50.00 (default: the payment’s amount)')
      .option('--customer <customer>', "IMT customer (default: the payment's)")
      .option('--invoice <invoice_number>', "IMT invoice number (default: the payment's)")
      .option('--message <text>', 'free text passed to IMT', '')
      .option('--ingress-url <url>', 'the ingress (default http://127.0.0.1:$INGRESS_PORT)')
      .option('--json', 'print the ingress answer as JSON');

  manual(
    payments
      .command('void')
      .description(
        'enter a void by hand (as IC would send it): reverses the payment in IMT, or stops its posting',
      ),
  ).action(
    commandAction(async (id: string, raw: ManualEntryOptions) => {
      const transactionId = parseId(id);
      if (raw.amount !== undefined) parseArgs(z.object({ amount: amountSchema }), { amount: raw.amount });
      const body = await manualEntryBody(provider, transactionId, raw);
      validateBody(VoidPaymentSchema, body);
      await postToIngress(io, provider, 'void', body, raw);
    }),
  );

  manual(
    payments
      .command('ach-reject')
      .description(
        'enter an ACH reject (bank return of an eCheck payment) by hand: reverses the payment in IMT',
      ),
  )
    .requiredOption('--return-code <code>', 'NACHA return code, R01 … R85')
    .addOption(
      new Option('--returned-at <date>', 'date of the return (ISO date)').default(
        new Date().toISOString().slice(0, 10),
        'today',
      ),
    )
    .action(
      commandAction(
        async (id: string, raw: ManualEntryOptions & { returnCode: string; returnedAt: string }) => {
          const transactionId = parseId(id);
          parseArgs(
            z.object({
              returnCode: z
                .string()
                .toUpperCase()
                .regex(RETURN_CODE, 'must be a NACHA return code R01 … R85'),
            }),
            {
              returnCode: raw.returnCode,
            },
          );
          if (raw.amount !== undefined) parseArgs(z.object({ amount: amountSchema }), { amount: raw.amount });
          const base = await manualEntryBody(provider, transactionId, raw);
          const body = { ...base, return_code: raw.returnCode.toUpperCase(), returned_at: raw.returnedAt };
          validateBody(AchRejectSchema, body);
          await postToIngress(io, provider, 'ach-reject', body, raw);
        },
      ),
    );
}

interface ManualEntryOptions {
  customer?: string;
  invoice?: string;
  amount?: string;
  message?: string;
  ingressUrl?: string;
  json?: boolean;
}

const ingressUrlSchema = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s) URL, e.g. http://127.0.0.1:3000')
  .transform((u) => u.replace(/\/+$/, ''));

/** Fills customer / invoice / amount the operator left out from the payment run itself. */
async function paymentFacts(ctx: CommandContext, transactionId: string) {
  const desc = await describeOrUndefined(ctx.client, workflowIds.payment(transactionId));
  if (!desc) return undefined;
  const memo = (desc.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
  let amount = typeof memo.amount === 'string' ? memo.amount : undefined;
  if (amount === undefined)
    amount = (await readState(ctx.client, desc.workflowId, desc.status.name)).state?.payment?.amount;
  return {
    customer: desc.typedSearchAttributes.get(SA.CustomerId),
    invoice: desc.typedSearchAttributes.get(SA.InvoiceNumber),
    amount,
  };
}

async function postToIngress(
  io: CliIo,
  provider: ContextProvider,
  kind: 'void' | 'ach-reject',
  body: Record<string, string>,
  opts: ManualEntryOptions,
): Promise<void> {
  const settings = provider.settings();
  const base = opts.ingressUrl
    ? parseArgs(ingressUrlSchema, opts.ingressUrl)
    : `http://127.0.0.1:${settings.ingressPort}`;
  const integratorId = ingressIntegratorId(io.env, settings.dataDir);
  const path =
    kind === 'void' ? '/api/integration/invoice/void-payment' : '/api/integration/invoice/ach-reject';
  const label = kind === 'void' ? 'void' : 'ACH reject';
  let res;
  try {
    res = await axios.post(`${base}${path}`, body, {
      headers: { 'X-Integrator-ID': integratorId, 'Content-Type': 'application/json' },
      validateStatus: () => true,
      timeout: 30_000,
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err instanceof Error ? err.message : 'error');
    throw new CliError(
      `cannot reach the ingress at ${base} (${code}); is the service running? Pass --ingress-url to use another.`,
    );
  }
  const data = (res.data ?? {}) as { message?: unknown; status?: unknown; error?: unknown };
  const message = typeof data.message === 'string' ? data.message : JSON.stringify(res.data).slice(0, 300);
  switch (true) {
    case res.status === 201 || res.status === 202: {
      if (opts.json) return io.out(json({ http_status: res.status, ...(res.data as object) }));
      const verb = res.status === 201 ? 'completed' : 'accepted (in progress)';
      const Label = label[0].toUpperCase() + label.slice(1);
      io.out(`${Label} of payment ${body.transaction_id} ${verb}: ${String(data.status ?? '')}\n`);
      io.out(`Follow it with: imt-ic payments show ${body.transaction_id}\n`);
      return;
    }
    case res.status === 403:
      throw new CliError(
        'the ingress refused the X-Integrator-ID; set INGRESS_INTEGRATOR_ID to the value the running service uses',
      );
    case res.status === 404 && data.error !== 'not_found':
      throw new CliError(
        `the ingress at ${base} has no ${path} endpoint (voids / ACH rejects not deployed there)`,
      );
    case res.status >= 500:
      throw new CliError(`the ingress answered ${res.status}: ${message}; try again shortly`);
    default:
      throw new CliError(`the ingress refused the ${label} (${res.status}): ${message}`);
  }
}

async function manualEntryBody(
  provider: ContextProvider,
  transactionId: string,
  opts: ManualEntryOptions,
): Promise<{
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  message: string;
}> {
  let { customer, invoice, amount } = opts;
  if (customer === undefined || invoice === undefined || amount === undefined) {
    const facts = await paymentFacts(await provider.get(), transactionId);
    customer ??= facts?.customer;
    invoice ??= facts?.invoice;
    amount ??= facts?.amount;
    const missing = [
      customer === undefined && '--customer',
      invoice === undefined && '--invoice',
      amount === undefined && '--amount',
    ].filter(Boolean);
    if (missing.length) {
      throw new UsageError(
        `${missing.join(', ')} required: ${facts ? `payment ${transactionId}'s run does not say` : `no payment ${transactionId} is known to take ${missing.length > 1 ? 'them' : 'it'} from`}`,
      );
    }
  }
  return {
    customer: customer as string,
    invoice_number: invoice as string,
    transaction_id: transactionId,
    amount: amount as string,
    message: opts.message ?? '',
  };
}

function validateBody<S extends z.ZodType>(schema: S, body: unknown): void {
  const result = schema.safeParse(body);
  if (result.success) return;
  const option: Record<string, string> = {
    invoice_number: '--invoice',
    return_code: '--return-code',
    returned_at: '--returned-at',
    transaction_id: '<transaction_id>',
  };
  throw new UsageError(
    Object.entries(fieldErrors(result.error))
      .map(([field, msgs]) => `${option[field] ?? `--${field}`}: ${msgs.join(', ')}`)
      .join('; '),
  );
}
