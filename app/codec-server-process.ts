/**
 * `npm run codec-server` — the codec server on its own (client/codec-server/server.ts).
 *
 * CODEC_SERVER_TOKEN (or _FILE, secret): the bearer token; and/or CODEC_SERVER_OIDC_JWKS_URL,
 * CODEC_SERVER_OIDC_ISSUER, CODEC_SERVER_OIDC_AUDIENCE: accept the Temporal UI users' access
 * tokens of that issuer; CODEC_SERVER_PORT (default 8888);
 * CODEC_SERVER_UI_ORIGIN: the Temporal UI's origin (default http://127.0.0.1:8233, the
 * embedded dev server's UI); PAYLOAD_KEYS as for the service (contracts A).
 */
import { z } from 'zod';
import { createLogger } from '../common/logger';
import { readSecret } from '../common/secrets';
import { AesGcmPayloadCodec, loadOrCreateLocalPayloadKeys, parsePayloadKeys } from '../common/payload-codec';
import { buildCodecServer } from '../client/codec-server/server';

const EnvSchema = z.object({
  CODEC_SERVER_PORT: z.coerce.number().int().min(1).max(65535).default(8888),
  CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  CODEC_SERVER_UI_ORIGIN: z
    .string()
    .regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://temporal-ui.example.com (no path)')
    .default('http://127.0.0.1:8233'),
  TEMPORAL_ADDRESS: z.string().optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  CODEC_SERVER_OIDC_JWKS_URL: z
    .url({ message: "must be the https:// URL of the issuer's JWKS" })
    .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u), {
      message: 'must be https:// (http:// only on loopback)',
    })
    .optional(),
  CODEC_SERVER_OIDC_ISSUER: z.string().min(1).optional(),
  CODEC_SERVER_OIDC_AUDIENCE: z.string().min(1).optional(),
  /** As for the service (common/config.ts): migrations only. */
  PAYLOAD_ALLOW_PLAINTEXT: z.enum(['true', 'false'], { message: 'must be true or false' }).default('false'),
});

function fail(problems: string[]): never {
  process.stderr.write(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}

export async function runCodecServer(): Promise<void> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success)
    for (const i of parsed.error.issues) problems.push(`${i.path.join('.')}: ${i.message}`);
  const token = readSecret(env, 'CODEC_SERVER_TOKEN');
  const oidcVars = ['CODEC_SERVER_OIDC_JWKS_URL', 'CODEC_SERVER_OIDC_ISSUER', 'CODEC_SERVER_OIDC_AUDIENCE'];
  const oidcSet = oidcVars.filter((v) => env[v]);
  if (oidcSet.length > 0 && oidcSet.length < oidcVars.length)
    problems.push(`${oidcVars.join(', ')} go together: set all three or none`);
  const withOidc = oidcSet.length === oidcVars.length;
  if (token.error) problems.push(token.error);
  else if (token.value !== undefined && token.value.length < 16)
    problems.push('CODEC_SERVER_TOKEN must be at least 16 characters');
  else if (!token.value && !withOidc)
    problems.push(
      'CODEC_SERVER_TOKEN (or CODEC_SERVER_TOKEN_FILE, at least 16 characters) is required unless CODEC_SERVER_OIDC_JWKS_URL, _ISSUER and _AUDIENCE are set',
    );
  const keysText = readSecret(env, 'PAYLOAD_KEYS');
  if (keysText.error) problems.push(keysText.error);
  const keys = keysText.value ? parsePayloadKeys(keysText.value) : undefined;
  if (keys?.error) problems.push(`PAYLOAD_KEYS: ${keys.error}`);
  if (!keysText.value && parsed.success && parsed.data.TEMPORAL_ADDRESS)
    problems.push('PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE) is required when TEMPORAL_ADDRESS is set');
  if (problems.length > 0 || !parsed.success) fail(problems);

  const e = parsed.data;
  const secrets = [
    ...(token.value ? [token.value] : []),
    ...(keys?.keys ?? []).map((k) => k.key.toString('base64')),
  ];
  const logger = createLogger({ level: e.LOG_LEVEL, secrets, name: 'codec-server' });
  // Summaries stay readable (marked public); any other plaintext payload is refused.
  const codec = new AesGcmPayloadCodec(keys?.keys ?? loadOrCreateLocalPayloadKeys(e.DATA_DIR), {
    plaintext: e.PAYLOAD_ALLOW_PLAINTEXT === 'true' ? 'allow' : 'public',
  });
  const app = buildCodecServer({
    codec,
    token: token.value,
    oidc:
      e.CODEC_SERVER_OIDC_JWKS_URL && e.CODEC_SERVER_OIDC_ISSUER && e.CODEC_SERVER_OIDC_AUDIENCE
        ? {
            jwksUrl: e.CODEC_SERVER_OIDC_JWKS_URL,
            issuer: e.CODEC_SERVER_OIDC_ISSUER,
            audience: e.CODEC_SERVER_OIDC_AUDIENCE,
          }
        : undefined,
    uiOrigin: e.CODEC_SERVER_UI_ORIGIN,
    logger,
  });
  await app.listen({ port: e.CODEC_SERVER_PORT, host: e.CODEC_SERVER_HOST });
  logger.info(
    {
      url: `http://${e.CODEC_SERVER_HOST}:${e.CODEC_SERVER_PORT}`,
      uiOrigin: e.CODEC_SERVER_UI_ORIGIN,
      keyIds: codec.keyIds,
    },
    'codec server listening',
  );
  const shutdown = () => void app.close().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
