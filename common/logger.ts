/**
 * Structured logs (pino). Credentials never reach a log line: known header/field paths
 * are redacted by pino, and every known secret value is scrubbed from messages and
 * string fields by a log-method hook (a secret can hide inside an error message echoed
 * by a server).
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'headers["x-integrator-id"]',
  'req.headers["x-integrator-id"]',
  '*.headers["x-integrator-id"]',
  'integratorId',
  '*.integratorId',
  'webServiceKey',
  '*.webServiceKey',
  'WebServiceKey',
  '*.WebServiceKey',
];

function scrub(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (secrets.length === 0 || depth > 4) return value;
  if (typeof value === 'string') {
    let out = value;
    for (const s of secrets) if (s.length >= 4 && out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  }
  if (value instanceof Error) {
    return { type: value.name, message: scrub(value.message, secrets, depth + 1) };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, secrets, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(
  opts: { level?: string; name?: string; secrets?: readonly string[] } = {},
): Logger {
  const secrets = opts.secrets ?? [];
  return pino({
    name: opts.name ?? 'imt-ic',
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    hooks: {
      logMethod(args, method) {
        const cleaned = args.map((a) => scrub(a, secrets)) as Parameters<typeof method>;
        return method.apply(this, cleaned);
      },
    },
  });
}

/** A logger that writes nothing, for tests and simulators. */
export const silentLogger: Logger = pino({ level: 'silent' });
