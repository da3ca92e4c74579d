/** The payload codec and the PAYLOAD_KEYS contract (contracts A), without a server. */
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { ConfigError, loadConfig } from '../../common/config';
import {
  AesGcmPayloadCodec,
  KEY_ID_METADATA,
  PUBLIC_METADATA,
  PayloadKeyError,
  PlaintextPayloadError,
  PublicTexts,
  formatPayloadKeys,
  generatePayloadKey,
  parsePayloadKeys,
} from '../../common/payload-codec';

const k1 = generatePayloadKey('k1');
const k2 = generatePayloadKey('k2');
const payload = (v: unknown) => defaultPayloadConverter.toPayload(v);
const value = (p: Parameters<typeof defaultPayloadConverter.fromPayload>[0]) =>
  defaultPayloadConverter.fromPayload(p);

describe('AesGcmPayloadCodec', () => {
  it('encrypts with the first key, names it in the metadata and decrypts back', async () => {
    const codec = new AesGcmPayloadCodec([k1, k2]);
    const secret = { customer_name: 'Ada Lovelace', amount: '1234.56' };
    const [enc] = await codec.encode([payload(secret)]);
    expect(Buffer.from(enc.data!).toString('latin1')).not.toContain('Lovelace');
    expect(new TextDecoder().decode(enc.metadata![KEY_ID_METADATA])).toBe('k1');
    const [dec] = await codec.decode([enc]);
    expect(value(dec)).toEqual(secret);
  });

  it('after rotation, data encrypted with the old key still decrypts; new data uses the new key', async () => {
    const [old] = await new AesGcmPayloadCodec([k1]).encode([payload('old')]);
    const rotated = new AesGcmPayloadCodec([k2, k1]);
    expect(value((await rotated.decode([old]))[0])).toBe('old');
    const [fresh] = await rotated.encode([payload('new')]);
    expect(new TextDecoder().decode(fresh.metadata![KEY_ID_METADATA])).toBe('k2');
  });

  it('a missing key or a different key under the same id fails with PayloadKeyError, never garbage', async () => {
    const [enc] = await new AesGcmPayloadCodec([k1]).encode([payload('x')]);
    await expect(new AesGcmPayloadCodec([k2]).decode([enc])).rejects.toThrow(
      /encrypted with key "k1", which is not among the configured PAYLOAD_KEYS \(k2\)/,
    );
    const impostor = generatePayloadKey('k1');
    await expect(new AesGcmPayloadCodec([impostor]).decode([enc])).rejects.toBeInstanceOf(PayloadKeyError);
    await expect(new AesGcmPayloadCodec([impostor]).decode([enc])).rejects.toThrow(/does not decrypt/);
  });

  it('a payload relabelled with another key id does not decrypt (the key id is authenticated)', async () => {
    const both = new AesGcmPayloadCodec([k1, { id: 'k2', key: k1.key }]);
    const [enc] = await both.encode([payload('x')]);
    enc.metadata![KEY_ID_METADATA] = new TextEncoder().encode('k2');
    await expect(both.decode([enc])).rejects.toThrow(/does not decrypt/);
  });

  it('leaves exactly the strings declared public readable, and only while declared', async () => {
    const texts = new PublicTexts();
    const codec = new AesGcmPayloadCodec([k1], { publicTexts: texts });
    texts.add('Payment · invoice 1');
    const [pub, other] = await codec.encode([payload('Payment · invoice 1'), payload('Payment · invoice 2')]);
    expect(value(pub)).toBe('Payment · invoice 1');
    expect(new TextDecoder().decode(other.metadata!.encoding)).toBe('binary/encrypted');
    texts.remove('Payment · invoice 1');
    const [after] = await codec.encode([payload('Payment · invoice 1')]);
    expect(new TextDecoder().decode(after.metadata!.encoding)).toBe('binary/encrypted');
  });
});

describe('plaintext payloads', () => {
  it('the worker refuses any; clients read only a marked public summary; the migration switch allows all', async () => {
    const texts = new PublicTexts();
    texts.add('Payment · invoice 1');
    const [summary] = await new AesGcmPayloadCodec([k1], { publicTexts: texts }).encode([
      payload('Payment · invoice 1'),
    ]);
    const forged = payload({ payment: { amount: '1.00' } });
    const forgedMark = {
      ...forged,
      metadata: { ...forged.metadata, [PUBLIC_METADATA]: new Uint8Array([49]) },
    };
    const worker = new AesGcmPayloadCodec([k1], { plaintext: 'refuse' });
    const client = new AesGcmPayloadCodec([k1]);
    const migrating = new AesGcmPayloadCodec([k1], { plaintext: 'allow' });
    await expect(worker.decode([summary])).rejects.toBeInstanceOf(PlaintextPayloadError);
    await expect(worker.decode([forged])).rejects.toThrow(/not encrypted.*PAYLOAD_ALLOW_PLAINTEXT/);
    expect(value((await client.decode([summary]))[0])).toBe('Payment · invoice 1');
    await expect(client.decode([forged])).rejects.toBeInstanceOf(PlaintextPayloadError);
    // The mark alone does not make an object readable: only a JSON string passes.
    await expect(client.decode([forgedMark])).rejects.toBeInstanceOf(PlaintextPayloadError);
    expect(value((await migrating.decode([forged]))[0])).toEqual({ payment: { amount: '1.00' } });
  });
});

describe('PAYLOAD_KEYS', () => {
  it('parses comma-separated <keyId>:<base64 of 32 bytes>', () => {
    const { keys } = parsePayloadKeys(formatPayloadKeys([k1, k2]));
    expect(keys?.map((k) => k.id)).toEqual(['k1', 'k2']);
  });

  it.each([
    ['', /holds no key/],
    ['k1', /entry 1 must be <keyId>:<base64 of 32 bytes>/],
    [`k1:${Buffer.alloc(16).toString('base64')}`, /key "k1" must be the base64 of exactly 32 random bytes/],
    [`${formatPayloadKeys([k1])},${formatPayloadKeys([k1])}`, /key id "k1" appears twice/],
  ])('rejects %j with a precise message', (text, message) => {
    const { error } = parsePayloadKeys(text);
    expect(error).toMatch(message);
  });

  it('is required when TEMPORAL_ADDRESS is set, and an invalid value is named without echoing it', () => {
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' })).toThrow(
      /PAYLOAD_KEYS \(or PAYLOAD_KEYS_FILE\) is required when TEMPORAL_ADDRESS is set/,
    );
    const bad = `k1:${Buffer.alloc(8, 7).toString('base64')}`;
    try {
      loadConfig({ PAYLOAD_KEYS: bad });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('PAYLOAD_KEYS: key "k1" must be the base64');
      expect((err as Error).message).not.toContain(bad.slice(3));
    }
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', PAYLOAD_KEYS: formatPayloadKeys([k2, k1]) });
    expect(c.payloadKeys?.map((k) => k.id)).toEqual(['k2', 'k1']);
  });
});
