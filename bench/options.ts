/**
 * `npm run bench [-- options]`: the full run by default, `--quick` (about a minute) to check a
 * change; any option overrides the chosen preset. Parsed by commander, validated by zod.
 */
import { Command } from 'commander';
import { z } from 'zod';

const count = (what: string) =>
  z.coerce.number().int(`${what} must be a whole number`).min(0, `${what} must be 0 or more`);

export const BenchOptions = z.object({
  mode: z.enum(['quick', 'full', 'custom']),
  payments: count('--payments'),
  direct: count('--direct'),
  concurrency: count('--concurrency').min(1, '--concurrency must be at least 1'),
  rounds: count('--rounds').min(1, '--rounds must be at least 1'),
  warmup: count('--warmup'),
  overloadSeconds: z.coerce.number().positive('--overload-seconds must be more than 0'),
  overloadRate: z.coerce.number().positive('--overload-rate must be more than 0').optional(),
  overloadMaxInFlight: count('--overload-max-in-flight').min(1).optional(),
  historySample: count('--history-sample'),
  exportInvoices: count('--export-invoices'),
  reconcileTransactions: count('--reconcile-transactions'),
  steadySeconds: z.coerce.number().positive('--steady-seconds must be more than 0'),
  steadyRate: z.coerce.number().positive('--steady-rate must be more than 0').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  serverLogLevel: z.enum(['debug', 'info', 'warn', 'error']),
  render: z.string().min(1).optional(),
});
export type BenchOptions = z.infer<typeof BenchOptions>;

type Preset = Pick<
  BenchOptions,
  | 'payments'
  | 'direct'
  | 'concurrency'
  | 'rounds'
  | 'warmup'
  | 'overloadSeconds'
  | 'historySample'
  | 'exportInvoices'
  | 'reconcileTransactions'
  | 'steadySeconds'
>;

export const PRESETS: Record<'quick' | 'full', Preset> = {
  full: {
    payments: 1000,
    direct: 1000,
    concurrency: 200,
    rounds: 2,
    warmup: 50,
    overloadSeconds: 20,
    historySample: 50,
    exportInvoices: 100_000,
    reconcileTransactions: 100_000,
    steadySeconds: 30,
  },
  quick: {
    payments: 200,
    direct: 200,
    concurrency: 100,
    rounds: 1,
    warmup: 20,
    overloadSeconds: 6,
    historySample: 20,
    exportInvoices: 20_000,
    reconcileTransactions: 5_000,
    steadySeconds: 10,
  },
};

function program(): Command {
  return new Command('bench')
    .description('Payments and export benchmark (not a test): figures against their goals, on one screen')
    .option(
      '--quick',
      'a few minutes: fewer payments, a shorter overload run, a 20,000-invoice export, a 5,000-payment reconciliation',
    )
    .option('--payments <n>', 'payments (and bare workflows) per throughput run; 0 skips the payments part')
    .option('--direct <n>', 'payment workflows started directly, without the ingress; 0 skips them')
    .option('--concurrency <n>', 'in flight during the throughput runs')
    .option('--rounds <n>', 'interleaved rounds of bare / ingress / direct')
    .option('--warmup <n>', 'unmeasured items of each kind first')
    .option('--overload-seconds <s>', 'length of the paced run at 2× the sustained rate')
    .option('--overload-rate <n>', 'arrivals per second of that run instead of 2× the sustained rate')
    .option(
      '--overload-max-in-flight <n>',
      "the ingress's INGRESS_MAX_IN_FLIGHT during that run (default: the configured one, 200)",
    )
    .option('--history-sample <n>', 'completed histories read for stages and actions')
    .option('--export-invoices <n>', 'invoices in the exported cycle; 0 skips the pools part')
    .option('--reconcile-transactions <n>', 'payments in the reconciled day of the pools part')
    .option('--steady-seconds <s>', 'length of each steady payments run of the pools part')
    .option(
      '--steady-rate <n>',
      'payments per second of those runs instead of 60 % of the sustained rate (needed with --payments 0)',
    )
    .option('--log-level <level>', "the project's log level in the bench", 'warn')
    .option('--server-log-level <level>', "the Temporal dev server's log level", 'error')
    .option('--render <report.json>', 'print the report of an earlier run from its JSON, running nothing')
    .showHelpAfterError();
}

/** The options of this invocation (argv without node and the script). */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const cmd = program().parse(argv, { from: 'user' });
  const o = cmd.opts<Record<string, string | boolean | undefined>>();
  const preset = PRESETS[o.quick ? 'quick' : 'full'];
  const overridden = Object.keys(preset).some((k) => o[k] !== undefined);
  const parsed = BenchOptions.safeParse({
    ...preset,
    ...Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'quick')),
    mode: overridden ? 'custom' : o.quick ? 'quick' : 'full',
  });
  if (!parsed.success)
    cmd.error(`bench: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data as BenchOptions;
}
