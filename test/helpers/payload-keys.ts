/** The payload keys of this test run (generated in global-setup, shared by every process). */
import { inject } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, parsePayloadKeys, type PayloadKey } from '../../common/payload-codec';

/** `PAYLOAD_KEYS` form (`<keyId>:<base64>`), for worker and CLI child processes. */
export function testPayloadKeys(): string {
  return inject('payloadKeys');
}

export function testPayloadKeyList(): PayloadKey[] {
  const { keys, error } = parsePayloadKeys(testPayloadKeys());
  if (!keys) throw new Error(`test payload keys: ${error}`);
  return keys;
}

/** A payload read from a raw history: decrypted with this run's keys, then converted. */
export async function decodeTestPayload(payload: Payload): Promise<unknown> {
  const [plain] = await new AesGcmPayloadCodec(testPayloadKeyList()).decode([payload]);
  return defaultPayloadConverter.fromPayload(plain);
}
