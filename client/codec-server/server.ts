/**
 * The codec server (Temporal's remote codec protocol) so that the Temporal UI — and the
 * `temporal` CLI with `--codec-endpoint` — shows decrypted payloads to people who hold the
 * bearer token, while Temporal itself only ever stores ciphertext.
 *
 * `POST /encode` and `POST /decode` take and return `{"payloads": [{"metadata": {k: base64},
 * "data": base64}]}`. CORS answers only the UI's own origin (the browser calls this server
 * directly from the UI page); every other origin gets no CORS headers, so browsers refuse.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from '../../common/logger';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token callers must present (secret). */
  token: string;
  /** Origin of the Temporal UI, e.g. http://127.0.0.1:8080 — the only origin CORS allows. */
  uiOrigin: string;
  logger: Logger;
}

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const PayloadsBody = z.strictObject({
  payloads: z
    .array(z.strictObject({ metadata: z.record(z.string(), Base64).optional(), data: Base64.optional() }))
    .max(1000, 'at most 1000 payloads per call'),
});

type JsonPayload = { metadata?: Record<string, string>; data?: string };

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v ?? new Uint8Array()).toString('base64'),
    ]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const digest = (s: string) => createHash('sha256').update(s).digest();

export function buildCodecServer(opts: CodecServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  const expected = digest(`Bearer ${opts.token}`);
  const uiOrigin = opts.uiOrigin.replace(/\/+$/, '');

  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.origin === uiOrigin) {
      reply.header('Access-Control-Allow-Origin', uiOrigin);
      reply.header('Vary', 'Origin');
      reply.header('Access-Control-Allow-Credentials', 'true');
    }
    if (request.method === 'OPTIONS') {
      if (request.headers.origin !== uiOrigin) return reply.code(403).send();
      reply.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
      reply.header('Access-Control-Max-Age', '600');
      return reply.code(204).send();
    }
    const presented = request.headers.authorization;
    if (typeof presented !== 'string' || !timingSafeEqual(digest(presented), expected)) {
      // Never log the presented value.
      opts.logger.warn(
        { url: request.url, origin: request.headers.origin },
        'codec server: bad or missing bearer token',
      );
      return reply.code(401).send({ error: 'a valid Authorization: Bearer token is required' });
    }
  });

  const route = (name: 'encode' | 'decode') =>
    app.post(`/${name}`, async (request, reply) => {
      const parsed = PayloadsBody.safeParse(request.body);
      if (!parsed.success) {
        return reply
          .code(400)
          .send({ error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      }
      try {
        const out = await opts.codec[name](parsed.data.payloads.map(fromJson));
        return { payloads: out.map(toJson) };
      } catch (err) {
        // PayloadKeyError messages name key ids only, never key material.
        return reply.code(422).send({ error: err instanceof Error ? err.message : String(err) });
      }
    });
  route('encode');
  route('decode');
  return app;
}
