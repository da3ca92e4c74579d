/**
 * `imt-ic ingress` — the HTTP ingress on its own (stateless: run several behind a load
 * balancer). Needs a Temporal cluster (TEMPORAL_ADDRESS, or the embedded default port).
 */
import { loadConfig, temporalAddressOf } from '../common/config';
import { temporalUiBaseUrl } from '../common/ui';
import { buildIngress } from '../client/ingress/server';
import { createMetrics, serveMetrics } from './metrics';
import { connectServiceClient, resolveEndpoints, serviceIngressOptions, serviceLogger } from './wiring';

export async function runIngress(): Promise<void> {
  const config = loadConfig(process.env, 'ingress');
  const endpoints = resolveEndpoints(config);
  const logger = serviceLogger(config, endpoints, 'ingress');
  const address = temporalAddressOf(config);
  const client = await connectServiceClient(config, address);
  const metrics = createMetrics();
  const ingress = buildIngress(
    serviceIngressOptions(config, endpoints, {
      client,
      logger,
      metrics,
      temporalUiUrl: temporalUiBaseUrl(),
    }),
  );
  await ingress.listen({ port: config.ingress.port, host: '0.0.0.0' });
  const metricsServer =
    config.metricsPort > 0
      ? await serveMetrics(metrics.registry, { host: config.metricsHost, port: config.metricsPort })
      : undefined;
  logger.info(
    {
      port: config.ingress.port,
      tls: config.ingress.tls ? 'on' : 'off',
      metrics: metricsServer?.url ?? 'off',
      address,
    },
    'ingress listening',
  );
  const stop = async () => {
    await ingress.close();
    await metricsServer?.close();
    await client.connection.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
