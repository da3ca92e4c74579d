/**
 * Payload encryption: every payload the worker, ingress and CLI send to Temporal (workflow
 * inputs and results, activity inputs and results, signals, queries, memos, static
 * summaries, failure details) is AES-256-GCM encrypted before it leaves the process, so
 * Temporal's database, its UI and anyone reading the history see ciphertext only.
 *
 * Several keys, so one can be rotated: the first key encrypts, every key decrypts. The key
 * id travels in the payload's metadata (never the key), and it is the GCM associated data,
 * so a payload cannot be made to decrypt under another key id. Decrypting with a missing or
 * different key fails with PayloadKeyError naming the key id — never garbage.
 *
 * Search attributes do not pass through codecs; they hold identifiers only (README).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** Marks a payload the code declared public (a static summary) and left readable on purpose. */
export const PUBLIC_METADATA = 'imt-ic-public';

/**
 * What decode does with a payload that is not encrypted:
 * - `refuse` (the worker): every plaintext payload is an error — nobody who reaches Temporal
 *   without the keys can hand the worker input it acts on;
 * - `public` (clients, codec server): only a marked public text (a JSON string) passes, so
 *   summaries stay readable;
 * - `allow`: anything passes (PAYLOAD_ALLOW_PLAINTEXT, for a migration from unencrypted runs).
 */
export type PlaintextPolicy = 'refuse' | 'public' | 'allow';

export class PlaintextPayloadError extends Error {
  override readonly name = 'PlaintextPayloadError';
}
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface PayloadKey {
  id: string;
  key: Buffer;
}

export class PayloadKeyError extends Error {
  override readonly name = 'PayloadKeyError';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Parses `<keyId>:<base64 of 32 bytes>[,…]` (contracts A). Messages name the key id or
 * position, never the key material.
 */
export function parsePayloadKeys(text: string): { keys?: PayloadKey[]; error?: string } {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) return { error: 'holds no key; expected <keyId>:<base64 of 32 bytes>[,…]' };
  const keys: PayloadKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const sep = entry.indexOf(':');
    const id = sep > 0 ? entry.slice(0, sep) : '';
    const material = sep > 0 ? entry.slice(sep + 1) : '';
    if (!KEY_ID.test(id)) {
      return {
        error: `entry ${i + 1} must be <keyId>:<base64 of 32 bytes> with a key id of letters, digits, '.', '_' or '-'`,
      };
    }
    const key = Buffer.from(material, 'base64');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material) || key.length !== KEY_BYTES) {
      return {
        error: `key "${id}" must be the base64 of exactly ${KEY_BYTES} random bytes (e.g. \`openssl rand -base64 32\`)`,
      };
    }
    if (keys.some((k) => k.id === id)) return { error: `key id "${id}" appears twice` };
    keys.push({ id, key });
  }
  return { keys };
}

export function formatPayloadKeys(keys: PayloadKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}

export function generatePayloadKey(
  id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`,
): PayloadKey {
  return { id, key: randomBytes(KEY_BYTES) };
}

/** Where a local stack keeps its generated payload key. */
export function localPayloadKeysFile(dataDir: string): string {
  return path.join(dataDir, 'payload-keys');
}

/** Local stacks only (TEMPORAL_ADDRESS unset): a key generated once and kept 0600 in DATA_DIR. */
export function loadOrCreateLocalPayloadKeys(dataDir: string): PayloadKey[] {
  const file = localPayloadKeysFile(dataDir);
  if (fs.existsSync(file)) {
    const parsed = parsePayloadKeys(fs.readFileSync(file, 'utf8'));
    if (parsed.keys) return parsed.keys;
    throw new PayloadKeyError(`${file}: ${parsed.error}`);
  }
  const keys = [generatePayloadKey('local1')];
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, formatPayloadKeys(keys), { mode: 0o600 });
  return keys;
}

/**
 * Strings the code declares public (static summaries: identifiers only), counted because the
 * same summary may be in flight twice. A payload whose content is exactly such a string stays
 * readable; everything else is encrypted. Equality with a public string means nothing secret
 * can slip through.
 */
export class PublicTexts {
  private readonly counts = new Map<string, number>();
  private static keyOf(text: string): string {
    return JSON.stringify(text);
  }
  add(text: string): void {
    const k = PublicTexts.keyOf(text);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  remove(text: string): void {
    const k = PublicTexts.keyOf(text);
    const n = (this.counts.get(k) ?? 0) - 1;
    if (n > 0) this.counts.set(k, n);
    else this.counts.delete(k);
  }
  /** A `json/plain` payload whose data is one of the public strings. */
  isPublic(payload: Payload): boolean {
    if (this.counts.size === 0 || !payload.metadata?.encoding || !payload.data) return false;
    if (dec.decode(payload.metadata.encoding) !== 'json/plain') return false;
    return this.counts.has(dec.decode(payload.data));
  }
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  private readonly publicTexts?: PublicTexts;
  private readonly plaintext: PlaintextPolicy;

  constructor(keys: PayloadKey[], opts: { publicTexts?: PublicTexts; plaintext?: PlaintextPolicy } = {}) {
    this.publicTexts = opts.publicTexts;
    this.plaintext = opts.plaintext ?? 'public';
    if (keys.length === 0) throw new PayloadKeyError('at least one payload key is needed');
    for (const k of keys) {
      if (k.key.length !== KEY_BYTES) throw new PayloadKeyError(`key "${k.id}" is not ${KEY_BYTES} bytes`);
    }
    this.current = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (this.publicTexts?.isPublic(payload)) {
        const metadata: Record<string, Uint8Array> = { ...payload.metadata };
        metadata[PUBLIC_METADATA] = enc.encode('1');
        return { ...payload, metadata };
      }
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, this.current.key, iv);
      cipher.setAAD(enc.encode(this.current.id));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: enc.encode(ENCODING), [KEY_ID_METADATA]: enc.encode(this.current.id) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!payload.metadata?.encoding || dec.decode(payload.metadata.encoding) !== ENCODING)
        return this.plaintextAllowed(payload);
      const idBytes = payload.metadata[KEY_ID_METADATA];
      if (!idBytes) throw new PayloadKeyError(`encrypted payload without the ${KEY_ID_METADATA} metadata`);
      const id = dec.decode(idBytes);
      const key = this.byId.get(id);
      if (!key) {
        throw new PayloadKeyError(
          `payload was encrypted with key "${id}", which is not among the configured PAYLOAD_KEYS (${this.keyIds.join(', ')}); add it back to decrypt`,
        );
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES)
        throw new PayloadKeyError(`encrypted payload (key "${id}") is truncated`);
      const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES));
      decipher.setAAD(idBytes);
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new PayloadKeyError(
          `payload encrypted with key "${id}" does not decrypt with the configured key of that id: the key differs from the one that encrypted it (or the data was altered)`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }

  private plaintextAllowed(payload: Payload): Payload {
    if (this.plaintext === 'allow') return payload;
    if (this.plaintext === 'public' && isMarkedPublicText(payload)) return payload;
    const encoding = payload.metadata?.encoding ? dec.decode(payload.metadata.encoding) : 'none';
    throw new PlaintextPayloadError(
      `refused a payload that is not encrypted (encoding ${encoding.slice(0, 40)}): every payload must come from a client holding PAYLOAD_KEYS; set PAYLOAD_ALLOW_PLAINTEXT=true only while migrating runs started without encryption`,
    );
  }
}

/** A marked `json/plain` payload holding one JSON string: the only plaintext a client reads. */
function isMarkedPublicText(payload: Payload): boolean {
  if (!payload.metadata?.[PUBLIC_METADATA] || !payload.metadata.encoding || !payload.data) return false;
  if (dec.decode(payload.metadata.encoding) !== 'json/plain') return false;
  try {
    return typeof JSON.parse(dec.decode(payload.data)) === 'string';
  } catch {
    return false;
  }
}
