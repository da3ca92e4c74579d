/**
 * What every Temporal client and worker of the service uses to talk to Temporal: the data
 * converter that encrypts payloads (common/payload-codec.ts) and failures' messages and stack
 * traces (common/failure-converter.ts), and the client interceptor that keeps static summaries
 * readable. Built from the configured PAYLOAD_KEYS, or — for a local server only
 * (TEMPORAL_ADDRESS unset) — from a key generated once under DATA_DIR.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClientInterceptors, WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter, type LoadedDataConverter, type Payload } from '@temporalio/common';
import type { AppConfig } from './config';
import { EXPORT_SCHEDULE_SUMMARY } from '../domain';
import { failureConverter } from './failure-converter';
import {
  AesGcmPayloadCodec,
  PublicTexts,
  loadOrCreateLocalPayloadKeys,
  type PayloadKey,
} from './payload-codec';

/** common/failure-converter, from sources (tsx, tests) or the compiled build: workers load it by path. */
export const FAILURE_CONVERTER_PATH = ['failure-converter.ts', 'failure-converter.js']
  .map((f) => path.join(__dirname, f))
  .find((f) => fs.existsSync(f)) as string;

/** What Worker.create takes: the SDK loads the failure converter by path (also into the bundle). */
export interface WorkerDataConverter {
  payloadCodecs: AesGcmPayloadCodec[];
  failureConverterPath: string;
}

export interface DataProtection {
  /** For clients (ingress, CLI, activities): plaintext only as a marked public summary. */
  dataConverter: LoadedDataConverter;
  /** For workers: refuses every plaintext payload (unless migrating). */
  workerDataConverter: WorkerDataConverter;
  /** Client interceptors: static summaries given at start stay readable in the UI and CLI. */
  interceptors: ClientInterceptors;
}

export function payloadKeysOf(config: Pick<AppConfig, 'payloadKeys' | 'dataDir'>): PayloadKey[] {
  return config.payloadKeys ?? loadOrCreateLocalPayloadKeys(config.dataDir);
}

export interface DataProtectionOptions {
  /** PAYLOAD_ALLOW_PLAINTEXT: accept unencrypted payloads (a migration from unencrypted runs). */
  allowPlaintext?: boolean;
}

export function dataProtection(keys: PayloadKey[], opts: DataProtectionOptions = {}): DataProtection {
  const publicTexts = new PublicTexts();
  // Always readable: a schedule action's summary is encoded on create and on every update.
  publicTexts.add(EXPORT_SCHEDULE_SUMMARY);
  const codec = new AesGcmPayloadCodec(keys, {
    publicTexts,
    plaintext: opts.allowPlaintext ? 'allow' : 'public',
  });
  const workerCodec = new AesGcmPayloadCodec(keys, {
    plaintext: opts.allowPlaintext ? 'allow' : 'refuse',
  });
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
  return {
    dataConverter: { payloadConverter: defaultPayloadConverter, failureConverter, payloadCodecs: [codec] },
    workerDataConverter: { payloadCodecs: [workerCodec], failureConverterPath: FAILURE_CONVERTER_PATH },
    interceptors: { workflow: [summaries] },
  };
}

/**
 * A failure's own message as its thrower wrote it, for code that reads failures from raw
 * protos (describe's pending activities, a fetched history): with encodeCommonAttributes the
 * proto says only "Encoded failure" and the message is inside an encrypted payload.
 */
export async function decodedFailureMessage(
  converter: LoadedDataConverter,
  failure: { message?: string | null; encodedAttributes?: unknown } | null | undefined,
): Promise<string | undefined> {
  if (!failure) return undefined;
  if (!failure.encodedAttributes) return failure.message ?? undefined;
  let decoded = [failure.encodedAttributes as Payload];
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  const attributes = converter.payloadConverter.fromPayload<{ message?: unknown }>(decoded[0]);
  return typeof attributes?.message === 'string' ? attributes.message : (failure.message ?? undefined);
}
