/**
 * What every Temporal client and worker of the service uses to talk to Temporal: the data
 * converter that encrypts payloads (common/payload-codec.ts) and the client interceptor that
 * keeps static summaries readable. Built from the configured PAYLOAD_KEYS, or — for a local
 * server only (TEMPORAL_ADDRESS unset) — from a key generated once under DATA_DIR.
 */
import type { ClientInterceptors, WorkflowClientInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from './config';
import { EXPORT_SCHEDULE_SUMMARY } from '../domain';
import {
  AesGcmPayloadCodec,
  PublicTexts,
  loadOrCreateLocalPayloadKeys,
  type PayloadKey,
} from './payload-codec';

export interface DataProtection {
  dataConverter: DataConverter;
  /** Client interceptors: static summaries given at start stay readable in the UI and CLI. */
  interceptors: ClientInterceptors;
}

export function payloadKeysOf(config: Pick<AppConfig, 'payloadKeys' | 'dataDir'>): PayloadKey[] {
  return config.payloadKeys ?? loadOrCreateLocalPayloadKeys(config.dataDir);
}

export function dataProtection(keys: PayloadKey[]): DataProtection {
  const publicTexts = new PublicTexts();
  // Always readable: a schedule action's summary is encoded on create and on every update.
  publicTexts.add(EXPORT_SCHEDULE_SUMMARY);
  const codec = new AesGcmPayloadCodec(keys, publicTexts);
  // The summary is encoded inside next(); it is public for exactly that long.
  const withPublic = async <T>(summary: string | undefined, next: () => Promise<T>): Promise<T> => {
    if (summary === undefined) return next();
    publicTexts.add(summary);
    try {
      return await next();
    } finally {
      publicTexts.remove(summary);
    }
  };
  const summaries: WorkflowClientInterceptor = {
    start: (input, next) => withPublic(input.options.staticSummary, () => next(input)),
    startWithDetails: (input, next) => withPublic(input.options.staticSummary, () => next(input)),
    signalWithStart: (input, next) => withPublic(input.options.staticSummary, () => next(input)),
    startUpdateWithStart: (input, next) =>
      withPublic(input.workflowStartOptions.staticSummary, () => next(input)),
  };
  return { dataConverter: { payloadCodecs: [codec] }, interceptors: { workflow: [summaries] } };
}
