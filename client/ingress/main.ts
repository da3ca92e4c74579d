/**
 * `npm run ingress` — the HTTP ingress on its own (stateless: run several behind a load
 * balancer). Needs a Temporal cluster (TEMPORAL_ADDRESS, or the embedded default port).
 */
import { Client } from '@temporalio/client';
import { ConfigError, loadConfig, secretValues, temporalAddressOf } from '../../common/config';
import { dataProtection, payloadKeysOf } from '../../common/data-protection';
import { connectTemporal, temporalConnectOptions } from '../../common/temporal-connection';
import { createLogger } from '../../common/logger';
import { ImtClient } from '../../integrations/imt-client';
import { endpointSecrets, resolveEndpoints } from '../../worker/runtime';
import { createMetrics } from '../../common/metrics';
import { buildIngress } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const endpoints = resolveEndpoints(config);
  const logger = createLogger({
    level: config.logLevel,
    secrets: [...endpointSecrets(endpoints), ...secretValues(config)],
    name: 'ingress',
  });
  const address = temporalAddressOf(config);
  const connection = await connectTemporal(
    temporalConnectOptions(address, { remote: Boolean(config.temporal.address) }),
  );
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    ...dataProtection(payloadKeysOf(config)),
  });
  const metrics = createMetrics();
  const ingress = buildIngress({
    hooks: metrics.ingressHooks,
    plugins: [metrics.ingressPlugin],
    client,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    integratorId: endpoints.ingressIntegratorId,
    confirmWaitMs: config.ingress.confirmWaitMs,
    rateLimitPerMinute: config.ingress.rateLimitPerMinute,
    maxInFlight: config.ingress.maxInFlight,
    unknownPaymentWaitMs: config.unknownPaymentWaitMs,
    logger,
    imt: new ImtClient({
      baseUrl: endpoints.imt.baseUrl,
      integratorId: endpoints.imt.integratorId,
      timeoutMs: config.imt.timeoutMs,
    }),
  });
  await ingress.listen({ port: config.ingress.port, host: '0.0.0.0' });
  logger.info({ port: config.ingress.port, address }, 'ingress listening');
  const stop = async () => {
    await ingress.close();
    await connection.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`Ingress failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
