/**
 * The codec server (Temporal's remote codec protocol) so that the Temporal UI — and the
 * `temporal` CLI with `--codec-endpoint` — shows decrypted payloads to people who hold the
 * bearer token, while Temporal itself only ever stores ciphertext.
 *
 * `POST /encode` and `POST /decode` take and return `{"payloads": [{"metadata": {k: base64},
 * "data": base64}]}`. CORS answers only the UI's own origin (the browser calls this server
 * directly from the UI page); every other origin gets no CORS headers, so browsers refuse.
 *
 * Who may call: the holder of the static bearer token, and/or — for a UI behind single sign-on,
 * which forwards only its signed-in user's access token (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN`) —
 * anyone presenting an access token signed by the configured OIDC issuer (verified against its
 * JWKS URL, with issuer, audience and expiry checked).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from '../../common/logger';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** A static bearer token callers may present (secret); at least this or `oidc`. */
  token?: string;
  /** Access tokens of this OIDC issuer are accepted (the Temporal UI's signed-in users). */
  oidc?: CodecOidc;
  /** Origin of the Temporal UI, e.g. http://127.0.0.1:8080 — the only origin CORS allows. */
  uiOrigin: string;
  logger: Logger;
}

export interface CodecOidc {
  /** The issuer's JWKS URL, e.g. https://login.example.com/.well-known/jwks.json */
  jwksUrl: string;
  /** The `iss` the tokens must carry. */
  issuer: string;
  /** The `aud` the tokens must carry (the API the UI's tokens are issued for). */
  audience: string;
}

/** A check of the presented `Authorization` header: static token, then OIDC access token. */
function authorizer(opts: CodecServerOptions): (header: string | undefined) => Promise<boolean> {
  if (!opts.token && !opts.oidc) throw new Error('the codec server needs a bearer token or an OIDC issuer');
  const expected = opts.token ? digest(`Bearer ${opts.token}`) : undefined;
  // jose caches the issuer's keys and refetches on an unknown key id (key rotation).
  const jwks = opts.oidc ? createRemoteJWKSet(new URL(opts.oidc.jwksUrl)) : undefined;
  return async (header) => {
    if (typeof header !== 'string') return false;
    if (expected && timingSafeEqual(digest(header), expected)) return true;
    if (!jwks || !opts.oidc) return false;
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    if (!token) return false;
    try {
      await jwtVerify(token, jwks, {
        issuer: opts.oidc.issuer,
        audience: opts.oidc.audience,
        // Asymmetric signatures only: an HMAC "signed" with a public key must not pass.
        algorithms: [
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'ES512',
          'EdDSA',
        ],
        clockTolerance: 30,
      });
      return true;
    } catch {
      return false;
    }
  };
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
  const authorized = authorizer(opts);
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
    if (!(await authorized(request.headers.authorization))) {
      // Never log the presented value.
      opts.logger.warn(
        { url: request.url, origin: request.headers.origin },
        'codec server: bad or missing bearer token',
      );
      return reply
        .code(401)
        .send({ error: 'a valid Authorization: Bearer token (or OIDC access token) is required' });
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
