/**
 * `npm run bench` (full) / `npm run bench -- --quick` — the benchmark, not a test. Runs the
 * payments part (bench/load/payments-bench.ts) and the pools part (bench/load/pools.ts: the
 * compiled payments and bulk pools side by side, the export and the reconciliation) on
 * this machine, prints one screen (bench/report/report.ts) and writes everything measured as
 * JSON to bench-output/bench-<timestamp>.json. Missed goals are reported, not failed; errors
 * (a payment not posted, a crash) exit non-zero. Layout: environment/ (servers, processes,
 * connection, measuring), load/ (the load generators), report/ (the screen).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPoolsBench } from './load/pools';
import { startStack } from './environment/stack';
import { runPaymentsBench } from './load/payments-bench';
import { parseBenchOptions, type BenchOptions } from './options';
import { renderReport, type BenchReport } from './report/report';

const log = (line: string) => process.stderr.write(`${line}\n`);
const loadAverage = () => os.loadavg().map((l) => Number(l.toFixed(2)));

async function run(opts: BenchOptions, report: BenchReport): Promise<void> {
  if (opts.payments > 0) {
    report.payments = await runPaymentsBench({
      ...opts,
      log,
      overloadRate: opts.overloadRate,
      overloadMaxInFlight: opts.overloadMaxInFlight,
    });
  }
  if (opts.exportInvoices > 0) {
    const sustained = report.payments?.sustainable;
    const rate = opts.steadyRate ?? (sustained ? 0.6 * sustained : undefined);
    if (rate === undefined) throw new Error('the pools part needs --steady-rate when --payments is 0');
    log(`[bench] pools side by side (compiled workers)`);
    const stack = await startStack({ ...opts, log });
    try {
      report.pools = await runPoolsBench(stack, {
        rate,
        sustained: sustained ?? rate / 0.6,
        seconds: opts.steadySeconds,
        invoices: opts.exportInvoices,
        transactions: opts.reconcileTransactions,
        log,
      });
    } finally {
      await stack.close();
    }
  }
}

async function main(): Promise<number> {
  const opts = parseBenchOptions(process.argv.slice(2));
  if (opts.render) {
    const saved = JSON.parse(fs.readFileSync(opts.render, 'utf8')) as BenchReport;
    process.stdout.write(`${renderReport(saved)}\n`);
    return 0;
  }
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    mode: opts.mode,
    options: { ...opts },
    loadAverage: { start: loadAverage() },
    errors: [],
  };
  try {
    await run(opts, report);
  } catch (err) {
    report.errors.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
    log(`\nBenchmark FAILED: ${report.errors[0]}`);
  }
  report.loadAverage.end = loadAverage();
  const outDir = path.join(__dirname, '..', 'bench-output');
  const outFile = path.join(outDir, `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `\n${renderReport(report)}\n\nFull report: ${path.relative(process.cwd(), outFile)}\n`,
  );
  return report.errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Benchmark FAILED: ${String(err)}\n`);
    process.exit(1);
  },
);
