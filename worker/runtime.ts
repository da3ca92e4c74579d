/**
 * Wiring shared by `npm start` and `npm run worker`: which IMT/IC endpoints and
 * credentials to use, and the activity dependencies built from them.
 */
import type { AppConfig } from '../common/config';
import { loadOrCreateEmbeddedSecrets } from '../common/embedded';
import type { Logger } from '../common/logger';
import { ImtClient } from '../integrations/imt-client';
import { InvoiceCloudClient } from '../integrations/ic-client';
import type { ActivityDeps } from '../activities';

export interface Endpoints {
  imt: { baseUrl: string; integratorId: string; simulated: boolean };
  ic: { baseUrl: string; billerGuid: string; webServiceKey: string; simulated: boolean };
  ingressIntegratorId: string;
}

/** Real endpoints when configured; otherwise the bundled simulators on their local ports. */
export function resolveEndpoints(config: AppConfig): Endpoints {
  const needEmbedded = !config.imt.baseUrl || !config.ic.baseUrl || !config.ingress.integratorId;
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
    ic: config.ic.baseUrl
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
    ingressIntegratorId: pick(config.ingress.integratorId, () => local!.ingressIntegratorId),
  };
}

export function buildActivityDeps(config: AppConfig, endpoints: Endpoints, logger: Logger): ActivityDeps {
  return {
    imt: new ImtClient({
      baseUrl: endpoints.imt.baseUrl,
      integratorId: endpoints.imt.integratorId,
      timeoutMs: config.imt.timeoutMs,
    }),
    ic: new InvoiceCloudClient({
      baseUrl: endpoints.ic.baseUrl,
      billerGuid: endpoints.ic.billerGuid,
      webServiceKey: endpoints.ic.webServiceKey,
    }),
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
