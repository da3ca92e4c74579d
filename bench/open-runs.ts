/**
 * `npm run bench:open-runs [-- --runs N]`: what one open (sleeping) transaction run costs on
 * the PostgreSQL-backed cluster (bytes in Temporal's two databases per run), and how long
 * `payments list --status NEEDS_ATTENTION` takes with N runs open (1 % of them parked). Not a
 * test: it prints figures. Default N = 100,000 (about an hour on 2 cores at the machine's
 * ceiling of ~25 starts a second); pass a smaller N to check it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { z } from 'zod';
import { receiveDelivery } from '../client/ingress/payment';
import { dataProtection } from '../common/data-protection';
import { silentLogger } from '../common/logger';
import { generatePayloadKey } from '../common/payload-codec';
import { connectTemporal } from '../common/temporal-connection';
import { startCluster, postgresBin } from '../dev/cluster';
import { ImtClient } from '../integrations/imt-client';
import { startImtSimulator } from '../simulators/imt/server';
import { createWorker } from '../worker/worker';

const Options = z.object({
  runs: z.coerce.number().int().min(10, '--runs must be at least 10'),
  concurrency: z.coerce.number().int().min(1),
});

async function main(): Promise<void> {
  const raw = new Command('bench:open-runs')
    .option('--runs <n>', 'transaction runs to open', '100000')
    .option('--concurrency <n>', 'deliveries in flight', '50')
    .parse()
    .opts();
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => i.message).join('; '));
    process.exit(2);
  }
  const { runs, concurrency } = parsed.data;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-open-runs-'));
  // PostgreSQL runs as its own user (dev/cluster.ts) and must reach the directory.
  fs.chmodSync(dataDir, 0o755);
  const cluster = await startCluster({ dataDir, log: () => undefined });
  const imt = await startImtSimulator({ port: 0, integratorId: 'bench-open-runs' });
  const protection = dataProtection([generatePayloadKey('bench')]);
  const connection = await connectTemporal({ address: cluster.address });
  const client = new Client({ connection, namespace: cluster.namespace, ...protection });
  const taskQueue = 'bench-open-runs';
  const native = await NativeConnection.connect({ address: cluster.address });
  const worker = await createWorker({
    connection: native,
    namespace: cluster.namespace,
    taskQueue,
    deps: {
      imt: new ImtClient({ baseUrl: imt.url, integratorId: 'bench-open-runs', timeoutMs: 5000 }),
      logger: silentLogger,
      authRetryDelayMs: 60_000,
      dataDir,
      temporalClient: client,
    },
    dataConverter: protection.workerDataConverter,
  });
  const running = worker.run();
  const deps = { client, namespace: cluster.namespace, taskQueue, confirmWaitMs: 10_000 };

  const before = databaseBytes(cluster.dir, cluster.postgresPort);
  const started = Date.now();
  let next = 0;
  const statuses = new Map<string, number>();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const i = next++;
        const customer = `B${String(i).padStart(7, '0')}`;
        const invoice_number = `${customer}20260901`;
        imt.addInvoice({ invoice_number, customer, amount_due: '20.00', past_due: '0.00' });
        // 1 % parked: IMT refuses them for good, as an operator would then find them.
        if (i % 100 === 0) imt.rejectPostsFor(invoice_number, { invoice_number: ['closed'] });
        const payment = {
          customer,
          invoice_number,
          transaction_id: `open-${i}-${started}`,
          amount: '20.00',
          payment_method: i % 2 ? ('echeck' as const) : ('credit' as const),
          message: '',
          source: 'invoice_cloud',
        };
        const answer = await receiveDelivery(deps, { kind: 'payment', payment });
        statuses.set(answer.kind, (statuses.get(answer.kind) ?? 0) + 1);
        if (i % 1000 === 999)
          process.stderr.write(`${i + 1} runs open (${Math.round((Date.now() - started) / 1000)} s)\n`);
      }
    }),
  );
  const openSeconds = (Date.now() - started) / 1000;
  const after = databaseBytes(cluster.dir, cluster.postgresPort);

  const query = `WorkflowType = 'transactionWorkflow' AND TaskQueue = '${taskQueue}' AND PaymentStatus = 'NEEDS_ATTENTION'`;
  const latencies: number[] = [];
  let listed = 0;
  for (let i = 0; i < 5; i++) {
    const t = Date.now();
    listed = 0;
    for await (const _ of client.workflow.list({ query, pageSize: 1000 })) listed++;
    latencies.push(Date.now() - t);
  }
  latencies.sort((a, b) => a - b);

  console.log(
    `\nOpen transaction runs on the PostgreSQL cluster (${runs} runs, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`,
  );
  console.log(`  answers:                      ${[...statuses].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(
    `  opened in:                    ${openSeconds.toFixed(0)} s (${(runs / openSeconds).toFixed(1)} runs/s)`,
  );
  console.log(
    `  PostgreSQL bytes per open run: ${Math.round((after - before) / runs)} (temporal + temporal_visibility, ${((after - before) / 1e6).toFixed(1)} MB in all)`,
  );
  console.log(
    `  payments list --status NEEDS_ATTENTION: ${listed} runs, median ${latencies[2]} ms, max ${latencies[4]} ms`,
  );

  worker.shutdown();
  await running;
  await native.close();
  await connection.close();
  await imt.close();
  await cluster.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Size of Temporal's two databases, read with Debian's psql over the cluster's socket. */
function databaseBytes(clusterDir: string, port: number): number {
  const password = fs.readFileSync(path.join(clusterDir, 'postgres-password'), 'utf8').trim();
  const r = spawnSync(
    path.join(postgresBin(), 'psql'),
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'temporal',
      '-d',
      'temporal',
      '-At',
      '-c',
      "select sum(pg_database_size(datname)) from pg_database where datname in ('temporal', 'temporal_visibility')",
    ],
    { env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
