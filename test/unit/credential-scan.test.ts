/**
 * No credential in the repository: every tracked text file is scanned for private keys,
 * credential-like header or variable values and high-entropy tokens. Files that hold
 * high-entropy data by nature are skipped, each for a stated reason.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

const SKIPPED: Record<string, string> = {
  'package-lock.json': 'sha512 integrity hashes of npm packages',
  'test/fixtures/histories/': 'base64 payloads of recorded test runs (generated test credentials only)',
};

const SECRET_NAME = String.raw`(?:INTEGRATOR_ID|WEB_SERVICE_KEY|PAYLOAD_KEYS|PASSWORD|PWD|TOKEN|API_KEY|SECRET)`;
const RULES: { name: string; pattern: RegExp }[] = [
  { name: 'private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { name: 'AWS access key', pattern: /\bAKIA[0-9A-Z]{16}\b/ },
  {
    name: 'X-Integrator-ID header with a literal value',
    pattern: /X-Integrator-ID:[ \t]*['"]?[A-Za-z0-9][A-Za-z0-9+/=_-]{7,}/i,
  },
  { name: 'Authorization header with a literal token', pattern: /Bearer\s+[A-Za-z0-9+/=_-]{20,}/ },
  {
    name: 'secret variable assigned a literal',
    pattern: new RegExp(String.raw`\b[A-Z_]*${SECRET_NAME}[ \t]*[=:][ \t]*['"][A-Za-z0-9+/_:.=-]{16,}['"]`),
  },
  {
    name: 'secret variable assigned a literal (env file)',
    pattern: new RegExp(
      String.raw`^[ \t]*(?:export[ \t]+)?[A-Z_]*${SECRET_NAME}=[A-Za-z0-9+/_:.-]{16,}`,
      'm',
    ),
  },
];

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** 32+ characters of base64/hex alphabet, mixing classes, with high Shannon entropy. */
function highEntropyTokens(text: string): string[] {
  return (text.match(/[A-Za-z0-9+/=_-]{32,}/g) ?? []).filter(
    (t) => /[A-Z]/.test(t) && /[a-z]/.test(t) && /\d/.test(t) && entropy(t) > 4.5,
  );
}

export function findCredentials(text: string): string[] {
  const found: string[] = [];
  for (const rule of RULES) if (rule.pattern.test(text)) found.push(rule.name);
  for (const t of highEntropyTokens(text)) found.push(`high-entropy token ${t.slice(0, 6)}…`);
  return found;
}

describe('credential scan of tracked files', () => {
  it('finds what it is meant to find (the scanner can fail)', () => {
    const token = `${randomBytes(30).toString('base64')}Z9a`; // every character class present
    expect(findCredentials(`const key = '${token}';`)).not.toEqual([]);
    expect(findCredentials(`curl -H 'X-Integrator-ID: ${randomBytes(8).toString('hex')}'`)).toContain(
      'X-Integrator-ID header with a literal value',
    );
    expect(findCredentials(`PAYLOAD_KEYS=k1:${token}`)).toContain(
      'secret variable assigned a literal (env file)',
    );
    expect(findCredentials(`IC_WEB_SERVICE_KEY: '${'abcdefghijklmnop'}1234'`)).toContain(
      'secret variable assigned a literal',
    );
    // Built at run time, so that this file does not hold the patterns it looks for.
    expect(findCredentials(['-----BEGIN RSA', 'PRIVATE KEY-----'].join(' '))).toContain('private key');
    // Placeholders and references are not credentials.
    expect(findCredentials('X-Integrator-ID: $ID · X-Integrator-ID: <INGRESS_INTEGRATOR_ID>')).toEqual([]);
    expect(findCredentials('PAYLOAD_KEYS: ${PAYLOAD_KEYS:?set PAYLOAD_KEYS in .env}')).toEqual([]);
  });

  it('finds no credential in any tracked text file', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && !Object.keys(SKIPPED).some((s) => f === s || (s.endsWith('/') && f.startsWith(s))));
    expect(files.length).toBeGreaterThan(50);
    const findings: string[] = [];
    for (const f of files) {
      const file = path.join(root, f);
      if (!fs.existsSync(file)) continue;
      const bytes = fs.readFileSync(file);
      if (bytes.includes(0)) continue; // binary (screenshots)
      for (const what of findCredentials(bytes.toString('utf8'))) findings.push(`${f}: ${what}`);
    }
    expect(findings).toEqual([]);
  });
});
