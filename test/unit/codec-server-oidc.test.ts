/**
 * The codec server accepts the Temporal UI's signed-in users (issue 22): an OIDC access token
 * verified against the issuer's JWKS URL (a local JWKS server here, keys made by jose), with
 * issuer, audience and expiry checked; anything else is 401. The static token still works.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { buildCodecServer } from '../../client/codec-server/server';
import { silentLogger } from '../../common/logger';
import { AesGcmPayloadCodec, generatePayloadKey } from '../../common/payload-codec';

const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'temporal-ui';
const STATIC = 'static-codec-token-0123456789';
let jwks: http.Server;
let codec: FastifyInstance;
let url: string;
let signingKey: CryptoKey;
let jwksFetches = 0;
const codecKeys = [generatePayloadKey('k1')];

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((_req, res) => {
    jwksFetches += 1;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  codec = buildCodecServer({
    codec: new AesGcmPayloadCodec(codecKeys),
    token: STATIC,
    oidc: {
      jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
      issuer: ISSUER,
      audience: AUDIENCE,
    },
    uiOrigin: 'http://127.0.0.1:8080',
    logger: silentLogger,
  });
  await codec.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(codec.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await codec?.close();
  jwks?.close();
});

const token = (claims: { iss?: string; aud?: string; exp?: string | number } = {}, key = signingKey) =>
  new SignJWT({ scope: 'openid' })
    .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
    .setSubject('operator@example.test')
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? '5m')
    .sign(key);

async function decodeWith(authorization: string | undefined): Promise<number> {
  const [encrypted] = await new AesGcmPayloadCodec(codecKeys).encode([
    defaultPayloadConverter.toPayload('x'),
  ]);
  const res = await fetch(`${url}/decode`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(encrypted.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(encrypted.data ?? new Uint8Array()).toString('base64'),
        },
      ],
    }),
  });
  return res.status;
}

describe('codec server: OIDC access tokens', () => {
  it('decodes for an access token of the configured issuer and audience', async () => {
    expect(await decodeWith(`Bearer ${await token()}`)).toBe(200);
    expect(jwksFetches).toBeGreaterThan(0);
  });

  it('refuses another issuer, another audience, an expired token, another key, or none', async () => {
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const past = Math.floor(Date.now() / 1000) - 3600;
    for (const bad of [
      await token({ iss: 'https://evil.example.test/' }),
      await token({ aud: 'another-api' }),
      await token({ exp: past }),
      await token({}, otherKey),
      'not-a-jwt',
    ])
      expect(await decodeWith(`Bearer ${bad}`)).toBe(401);
    expect(await decodeWith(undefined)).toBe(401);
  });

  it('still accepts the static bearer token (CLI, scripts)', async () => {
    expect(await decodeWith(`Bearer ${STATIC}`)).toBe(200);
    expect(await decodeWith(`Bearer ${STATIC}x`)).toBe(401);
  });
});
