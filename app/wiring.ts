/**
 * The wiring every process of the service shares (start, worker, ingress, demo, bench):
 * config → endpoints and credentials → HTTP clients → activity dependencies, the Temporal
 * client, and the ingress's options. Written once here, so the processes differ only in
 * which parts they run.
 */
import { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { paymentsTaskQueue, secretValues, temporalAddressOf, type AppConfig } from '../common/config';
import { dataProtection, payloadKeysOf } from '../common/data-protection';
import { loadOrCreateEmbeddedSecrets } from '../common/embedded';
import { createLogger, type Logger } from '../common/logger';
import { connectTemporal, temporalConnectOptions } from '../common/temporal-connection';
import { ImtClient } from '../integrations/imt-client';
import { InvoiceCloudClient } from '../integrations/ic-client';
import type { ActivityDeps, ActivityMetrics } from '../activities';
import type { CallObserver } from '../integrations/http';
import type { IngressHooks, IngressOptions } from '../client/ingress/server';
import { combineIngressHooks, type ServiceMetrics } from './metrics';
import { watchPaymentRuns } from './payment-run-metrics';

export interface Endpoints {
  imt: { baseUrl: string; integratorId: string; simulated: boolean };
  ic: { baseUrl: string; billerGuid: string; webServiceKey: string; simulated: boolean };
  ingressIntegratorId: string;
}

/**
 * Real endpoints when configured; otherwise the bundled simulators on their local ports. A
 * worker-only process has no ingress credential and an ingress-only one no IC credential
 * (common/config.ts ProcessRole): those stay empty rather than falling back to local ones.
 */
export function resolveEndpoints(config: AppConfig): Endpoints {
  const role = config.role ?? 'all';
  const icUnused = role === 'ingress' && !config.ic.baseUrl && !config.embedded;
  const ingressUnused = role === 'worker' && !config.ingress.integratorId && !config.embedded;
  const needEmbedded =
    !config.imt.baseUrl ||
    (!config.ic.baseUrl && !icUnused) ||
    (!config.ingress.integratorId && !ingressUnused);
  const local = needEmbedded ? loadOrCreateEmbeddedSecrets(config.dataDir) : undefined;
  const pick = <T>(real: T | undefined, fallback: () => T): T => (real !== undefined ? real : fallback());
  return {
    imt: config.imt.baseUrl
      ? { baseUrl: config.imt.baseUrl, integratorId: config.imt.integratorId ?? '', simulated: false }
      : {
          baseUrl: `http://127.0.0.1:${config.imt.simulatorPort}`,
          integratorId: local!.imtIntegratorId,
          simulated: true,
        },
    ic: icUnused
      ? { baseUrl: '', billerGuid: '', webServiceKey: '', simulated: false }
      : config.ic.baseUrl
        ? {
            baseUrl: config.ic.baseUrl,
            billerGuid: config.ic.billerGuid ?? '',
            webServiceKey: config.ic.webServiceKey ?? '',
            simulated: false,
          }
        : {
            baseUrl: `http://127.0.0.1:${config.ic.simulatorPort}`,
            billerGuid: local!.icBillerGuid,
            webServiceKey: local!.icWebServiceKey,
            simulated: true,
          },
    ingressIntegratorId: ingressUnused
      ? ''
      : pick(config.ingress.integratorId, () => local!.ingressIntegratorId),
  };
}

export function imtClientOf(config: AppConfig, endpoints: Endpoints, onCall?: CallObserver): ImtClient {
  return new ImtClient({
    baseUrl: endpoints.imt.baseUrl,
    integratorId: endpoints.imt.integratorId,
    timeoutMs: config.imt.timeoutMs,
    onCall,
  });
}

/** The activities' dependencies; `metrics` also observe every IMT and IC call of their clients. */
export function buildActivityDeps(
  config: AppConfig,
  endpoints: Endpoints,
  logger: Logger,
  metrics?: ActivityMetrics,
): ActivityDeps {
  return {
    imt: imtClientOf(config, endpoints, metrics?.onCall),
    ic: new InvoiceCloudClient({
      baseUrl: endpoints.ic.baseUrl,
      billerGuid: endpoints.ic.billerGuid,
      webServiceKey: endpoints.ic.webServiceKey,
      onCall: metrics?.onCall,
    }),
    metrics,
    logger,
    authRetryDelayMs: 60_000,
    alertWebhookUrl: config.alertWebhookUrl,
    dataDir: config.dataDir,
    bifDateFormat: config.bif.dateFormat,
  };
}

/** Every secret in play, for log scrubbing. */
export function endpointSecrets(e: Endpoints): string[] {
  return [e.imt.integratorId, e.ic.webServiceKey, e.ingressIntegratorId].filter((s) => s.length > 0);
}

/** The process's logger, scrubbing every secret in play. */
export function serviceLogger(config: AppConfig, endpoints: Endpoints, name?: string): Logger {
  return createLogger({
    level: config.logLevel,
    secrets: [...endpointSecrets(endpoints), ...secretValues(config)],
    name,
  });
}

/** A Temporal client with the service's payload encryption (contracts A: PAYLOAD_KEYS). */
export async function connectServiceClient(
  config: AppConfig,
  address = temporalAddressOf(config),
): Promise<Client> {
  const connection = await connectTemporal(
    temporalConnectOptions(address, { remote: Boolean(config.temporal.address) }),
  );
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    ...dataProtection(payloadKeysOf(config), { allowPlaintext: config.allowPlaintextPayloads }),
  });
}

/** The ingress as every process runs it: config, endpoints, TLS, metrics hooks (not the endpoint). */
export function serviceIngressOptions(
  config: AppConfig,
  endpoints: Endpoints,
  parts: {
    client: Client;
    logger: Logger;
    metrics: ServiceMetrics;
    temporalUiUrl?: string;
    hooks?: IngressHooks;
    plugins?: ((app: FastifyInstance) => void)[];
  },
): IngressOptions {
  // The ingress's /metrics also answers how many payment runs sit in each status.
  watchPaymentRuns(parts.metrics, { client: parts.client, taskQueue: config.temporal.taskQueue });
  return {
    client: parts.client,
    namespace: config.temporal.namespace,
    // Transaction runs start on, and /healthz checks, the payments pool's queue.
    taskQueue: paymentsTaskQueue(config),
    integratorId: endpoints.ingressIntegratorId,
    confirmWaitMs: config.ingress.confirmWaitMs,
    rateLimitPerMinute: config.ingress.rateLimitPerMinute,
    maxInFlight: config.ingress.maxInFlight,
    timing: { awaitPaymentMs: config.unknownPaymentWaitMs },
    logger: parts.logger,
    imt: imtClientOf(config, endpoints, parts.metrics.activity.onCall),
    temporalUiUrl: parts.temporalUiUrl,
    hooks: combineIngressHooks(parts.metrics.ingressHooks, parts.hooks),
    plugins: parts.plugins,
    tls: config.ingress.tls,
  };
}
