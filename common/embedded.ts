/**
 * Credentials for the embedded demo stack (bundled simulators standing in for IMT and
 * IC). They are generated on first start and kept in DATA_DIR with mode 0600 so that a
 * separately started worker (`npm run worker`) can reach the same simulators. They are
 * local-only throwaway values, never the biller's real credentials.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const EmbeddedSecretsSchema = z.object({
  imtIntegratorId: z.string().min(16),
  icBillerGuid: z.string().min(16),
  icWebServiceKey: z.string().min(16),
  ingressIntegratorId: z.string().min(16),
});
export type EmbeddedSecrets = z.infer<typeof EmbeddedSecretsSchema>;

export function embeddedSecretsPath(dataDir: string): string {
  return path.join(dataDir, 'embedded-credentials.json');
}

export function loadOrCreateEmbeddedSecrets(dataDir: string): EmbeddedSecrets {
  const file = embeddedSecretsPath(dataDir);
  if (fs.existsSync(file)) {
    const parsed = EmbeddedSecretsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (parsed.success) return parsed.data;
  }
  const secrets: EmbeddedSecrets = {
    imtIntegratorId: randomBytes(16).toString('hex'),
    icBillerGuid: randomUUID(),
    icWebServiceKey: randomBytes(24).toString('base64url'),
    ingressIntegratorId: randomBytes(16).toString('hex'),
  };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
