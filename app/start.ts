/**
 * `imt-ic start` (`npm start`) — runs the service: worker + ingress, plus the embedded Temporal dev
 * server and IMT/IC simulators when no real ones are configured (contracts A).
 */
import { loadConfig } from '../common/config';
import { embeddedSecretsPath } from '../common/embedded';
import { resolveEndpoints, serviceLogger } from './wiring';
import { startStack } from './stack';

export async function runStart(opts: { cluster?: boolean; tls?: boolean } = {}): Promise<void> {
  const config = loadConfig();
  const logger = serviceLogger(config, resolveEndpoints(config));
  // `npm run cluster`: the same service on a local Temporal cluster backed by PostgreSQL.
  const localTemporal = opts.cluster ? 'cluster' : 'dev-server';
  if (opts.tls && !opts.cluster) throw new Error('--tls needs --cluster (`npm run cluster -- --tls`)');
  const stack = await startStack(config, { logger, localTemporal, clusterTls: opts.tls });

  const lines = [
    '',
    'IMT ⇄ Invoice Cloud integration is running',
    `  Ingress (point IC's Data Pump here): ${stack.ingressUrl}/api/integration/invoice/post-payment`,
    `  Health:                              ${stack.ingressUrl}/healthz`,
    `  Temporal:                            ${stack.temporalAddress} (namespace ${config.temporal.namespace}, task queues ${config.temporal.taskQueues.payments} · ${config.temporal.taskQueues.bulk})`,
  ];
  if (stack.temporalTlsEnv) {
    lines.push('  Temporal mTLS: other processes (worker, ingress, CLI) connect with');
    for (const [k, v] of Object.entries({ TEMPORAL_ADDRESS: stack.temporalAddress, ...stack.temporalTlsEnv }))
      lines.push(`    ${k}=${v}`);
  }
  if (stack.temporalUiUrl) lines.push(`  Temporal UI:                         ${stack.temporalUiUrl}`);
  if (stack.imtSimulator)
    lines.push(`  IMT simulator:                       ${stack.imtSimulator.url} (inspect: /_sim/ledger)`);
  if (stack.icSimulator)
    lines.push(`  IC simulator:                        ${stack.icSimulator.url} (inspect: /_sim/uploads)`);
  if (!config.ingress.integratorId)
    lines.push(
      `  Ingress X-Integrator-ID:             local demo value in ${embeddedSecretsPath(config.dataDir)}`,
    );
  lines.push(`  Metrics (Prometheus):                ${stack.metricsUrl ?? 'off (METRICS_PORT=0)'}`);
  lines.push('  Operator CLI:                        npx imt-ic payments list --status NEEDS_ATTENTION');
  lines.push('  Stop with Ctrl-C.', '');
  process.stdout.write(lines.join('\n') + '\n');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stack
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
