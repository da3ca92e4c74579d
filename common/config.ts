/**
 * The one schema for environment configuration (contracts A), validated at start.
 *
 * Invalid or missing configuration stops the process with one message that names every
 * bad variable — never a stack trace and never a secret's value. Secrets may be given
 * directly or as `<NAME>_FILE`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readSecret } from './secrets';
import {
  BULK_QUEUE_SUFFIX,
  IMT_TIMEOUT_MAX_MS,
  IMT_TIMEOUT_MIN_MS,
  isTimeZone,
  taskQueuesOf,
  type TaskQueues,
} from '../domain';
import { parsePayloadKeys, type PayloadKey } from './payload-codec';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const port = (fallback: number) =>
  z.coerce
    .number({ message: 'must be a port number' })
    .int('must be a whole number')
    .min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535')
    .default(fallback);

const httpUrl = z
  .url({ message: 'must be an absolute http(s) URL, e.g. https://billingtest.imtapps.com' })
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .transform((u) => u.replace(/\/+$/, ''));

const positiveMs = (fallback: number) =>
  z.coerce.number({ message: 'must be a number of milliseconds' }).int().min(0).default(fallback);

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

/** The defaults other entry points (the operator CLI) take from here rather than restate. */
export const CONFIG_DEFAULTS = Object.freeze({
  temporalNamespace: 'default',
  temporalTaskQueue: 'imt-ic',
  /** The embedded dev server's gRPC and UI ports (without TEMPORAL_ADDRESS). */
  temporalPort: 7233,
  temporalUiPort: 8233,
  ingressPort: 3000,
  dataDir: './.data',
  billerTimeZone: 'America/Chicago',
});

const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[\w.-]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default(CONFIG_DEFAULTS.temporalNamespace),
  TEMPORAL_TASK_QUEUE: z
    .string()
    .min(1)
    .refine(
      (q) => !q.endsWith(BULK_QUEUE_SUFFIX),
      `must not end in "${BULK_QUEUE_SUFFIX}": the bulk pool's queue is this name + "${BULK_QUEUE_SUFFIX}" (domain/task-queues.ts)`,
    )
    .default(CONFIG_DEFAULTS.temporalTaskQueue),
  TEMPORAL_UI_PORT: port(CONFIG_DEFAULTS.temporalUiPort),
  TEMPORAL_PORT: port(CONFIG_DEFAULTS.temporalPort),
  IMT_BASE_URL: httpUrl.optional(),
  IC_BASE_URL: httpUrl.optional(),
  IC_BILLER_GUID: z.string().min(1).optional(),
  INGRESS_PORT: port(CONFIG_DEFAULTS.ingressPort),
  /** Requests per minute per client address at the ingress (0 = no limit). */
  INGRESS_RATE_LIMIT_PER_MINUTE: z.coerce
    .number({ message: 'must be a number of requests per minute' })
    .int('must be a whole number')
    .min(0, 'must be 0 (no limit) or more')
    .default(6000),
  /**
   * Payment / void / ACH-reject calls the ingress holds at once; past it, 429 with
   * Retry-After (IC's Data Pump redelivers). Past a quarter of it, a payment is only started
   * and answered 202 at once (the wait for IMT would not succeed in time anyway).
   */
  INGRESS_MAX_IN_FLIGHT: z.coerce
    .number({ message: 'must be a number of calls' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .default(200),
  DATA_DIR: z.string().min(1).default(CONFIG_DEFAULTS.dataDir),
  ALERT_WEBHOOK_URL: httpUrl.optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** How long the ingress waits for IMT's confirmation before answering 202 (contracts B: 5 s). */
  PAYMENT_CONFIRM_WAIT_MS: positiveMs(5000),
  /** How long a void/ACH reject for an unknown payment waits for that payment (issue 4: 24 h). */
  UNKNOWN_PAYMENT_WAIT_MS: positiveMs(24 * 60 * 60 * 1000),
  /** Bounded so that it always ends before the posting activity's start-to-close (domain/payment.ts). */
  IMT_TIMEOUT_MS: z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(IMT_TIMEOUT_MIN_MS, `must be at least ${IMT_TIMEOUT_MIN_MS} ms`)
    .max(
      IMT_TIMEOUT_MAX_MS,
      `must be at most ${IMT_TIMEOUT_MAX_MS} ms (IMT calls must end before their activity times out)`,
    )
    .default(10_000),
  IMT_SIMULATOR_PORT: port(4010),
  IC_SIMULATOR_PORT: port(4020),
  /** The process's Prometheus endpoint (0 = off): never the ingress's port, which IC reaches. */
  METRICS_PORT: z.coerce
    .number({ message: 'must be a port number, or 0 (off)' })
    .int('must be a whole number')
    .min(0, 'must be between 0 (off) and 65535')
    .max(65535, 'must be between 0 (off) and 65535')
    .default(9464),
  /** Loopback by default: a Prometheus server elsewhere needs METRICS_HOST=0.0.0.0 and a firewall. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** contracts A: the ingress serves HTTPS only when both are set. */
  INGRESS_TLS_CERT_FILE: z.string().min(1).optional(),
  INGRESS_TLS_KEY_FILE: z.string().min(1).optional(),
  /** contracts A: `http://` for IMT_BASE_URL / IC_BASE_URL only when true (test rigs). */
  ALLOW_INSECURE_URLS: bool(false),
  /** Export files (names, addresses, e-mails) older than this many days are deleted (0 = keep). */
  EXPORT_FILE_RETENTION_DAYS: z.coerce
    .number({ message: 'must be a number of days' })
    .int('must be a whole number of days')
    .min(0, 'must be 0 (keep forever) or more')
    .default(30),
  /**
   * Migrations only: accept payloads that are not encrypted (written before encryption, or by
   * a client without the keys). Off: a plaintext payload is refused, so nobody who can reach
   * Temporal but lacks the keys can start a run the worker acts on.
   */
  PAYLOAD_ALLOW_PLAINTEXT: bool(false),
  BIF_DATE_FORMAT: z.enum(['YYYY-MM-DD', 'MM/DD/YYYY']).default('YYYY-MM-DD'),
  EXPORT_APPROVAL_REQUIRED: bool(false),
  EXPORT_SCHEDULE_TIMEZONE: z
    .string()
    .refine(isTimeZone, 'must be an IANA time zone, e.g. America/Chicago')
    .default('America/Chicago'),
  /**
   * One real partner with the other simulated (e.g. IC_BASE_URL set, IMT_BASE_URL unset:
   * the real IC's payments would post into the bundled IMT simulator) — refused unless this
   * is `true` (docs/decisions.md, "Configuration in one message").
   */
  ALLOW_ONE_SIMULATOR: bool(false),
  /** The biller's days (reconciliation, contracts C4 dates) are days on this zone's wall clock. */
  BILLER_TIME_ZONE: z
    .string()
    .refine(isTimeZone, 'must be an IANA time zone, e.g. America/Chicago')
    .default(CONFIG_DEFAULTS.billerTimeZone),
  /** A prebuilt workflow bundle (the container image ships one); unset → bundle from source at start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every variable the schema reads (besides the secrets, which it reads as `<NAME>` or `<NAME>_FILE`). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);
/** The secrets, each also accepted as `<NAME>_FILE`. */
export const SECRET_VARIABLES = [
  'IMT_INTEGRATOR_ID',
  'IC_WEB_SERVICE_KEY',
  'INGRESS_INTEGRATOR_ID',
  'PAYLOAD_KEYS',
];

export interface AppConfig {
  temporal: {
    /** undefined → run an embedded dev server. */
    address?: string;
    namespace: string;
    /** TEMPORAL_TASK_QUEUE: the service's queue, which is also the payments pool's. */
    taskQueue: string;
    /** Both worker pools' queues (domain/task-queues.ts). */
    taskQueues: TaskQueues;
    embeddedPort: number;
    uiPort: number;
  };
  imt: { baseUrl?: string; integratorId?: string; timeoutMs: number; simulatorPort: number };
  ic: { baseUrl?: string; billerGuid?: string; webServiceKey?: string; simulatorPort: number };
  ingress: {
    port: number;
    /** PEM files; set → HTTPS only (TLS 1.2+), reloaded on SIGHUP or when the files change. */
    tls?: { certFile: string; keyFile: string };
    integratorId?: string;
    confirmWaitMs: number;
    rateLimitPerMinute: number;
    maxInFlight: number;
  };
  dataDir: string;
  alertWebhookUrl?: string;
  logLevel: LogLevel;
  unknownPaymentWaitMs: number;
  metricsPort: number;
  metricsHost: string;
  /** Days an export file is kept under DATA_DIR (0 = forever). */
  exportFileRetentionDays: number;
  /** PAYLOAD_ALLOW_PLAINTEXT: migrations only. */
  allowPlaintextPayloads: boolean;
  bif: { dateFormat: 'YYYY-MM-DD' | 'MM/DD/YYYY' };
  export: { approvalRequired: boolean; scheduleTimeZone: string };
  biller: { timeZone: string };
  /** True when IMT and IC are both the bundled simulators: the local demo stack. */
  embedded: boolean;
  /** The process this configuration is for (its secrets only). */
  role?: ProcessRole;
  workflowBundlePath?: string;
  /**
   * PAYLOAD_KEYS (first encrypts, all decrypt). Undefined only with a local Temporal server:
   * common/data-protection.ts then uses a key generated once under DATA_DIR.
   */
  payloadKeys?: PayloadKey[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Empty strings count as unset, so a copied `.env.example` with blank values works. */
function withoutBlanks(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v.trim();
  return out;
}

type Env = z.output<typeof EnvSchema>;

interface Secrets {
  imtIntegratorId?: string;
  icKey?: string;
  ingressId?: string;
  payloadKeysText?: string;
  payloadKeys?: PayloadKey[];
}

/** Each secret from its variable or `<NAME>_FILE`; what cannot be read goes to `problems`. */
function readSecrets(env: Record<string, string>, problems: string[]): Secrets {
  const secret = (name: string) => {
    const r = readSecret(env, name);
    if (r.error) problems.push(r.error);
    return r.value;
  };
  const imtIntegratorId = secret('IMT_INTEGRATOR_ID');
  const icKey = secret('IC_WEB_SERVICE_KEY');
  const ingressId = secret('INGRESS_INTEGRATOR_ID');
  const payloadKeysText = secret('PAYLOAD_KEYS');
  let payloadKeys: PayloadKey[] | undefined;
  if (payloadKeysText) {
    const r = parsePayloadKeys(payloadKeysText);
    if (r.error) problems.push(`PAYLOAD_KEYS: ${r.error}`);
    payloadKeys = r.keys;
  }
  return { imtIntegratorId, icKey, ingressId, payloadKeysText, payloadKeys };
}

/**
 * Which process reads the configuration: each gets only its own secrets (least privilege).
 * The worker never needs the ingress's credential; the ingress never needs IC's.
 */
export type ProcessRole = 'all' | 'worker' | 'ingress';

/**
 * Variables that another one makes required (a real IMT needs its integrator ID, …). Read
 * from the raw (blank-free) variables, whether or not they parsed, so that one message
 * names every problem: a malformed IMT_BASE_URL still calls for IMT_INTEGRATOR_ID.
 */
function requiredTogether(e: Record<string, string>, s: Secrets, role: ProcessRole): string[] {
  const problems: string[] = [];
  if (e.IMT_BASE_URL && !s.imtIntegratorId)
    problems.push('IMT_INTEGRATOR_ID (or IMT_INTEGRATOR_ID_FILE) is required when IMT_BASE_URL is set');
  const needsIc = e.IC_BASE_URL && role !== 'ingress';
  if (needsIc && !e.IC_BILLER_GUID) problems.push('IC_BILLER_GUID is required when IC_BASE_URL is set');
  if (needsIc && !s.icKey)
    problems.push('IC_WEB_SERVICE_KEY (or IC_WEB_SERVICE_KEY_FILE) is required when IC_BASE_URL is set');
  if (e.TEMPORAL_ADDRESS && !s.payloadKeysText)
    problems.push(
      'PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE) is required when TEMPORAL_ADDRESS is set: comma-separated <keyId>:<base64 of 32 bytes>, the first encrypts (make a key with `openssl rand -base64 32`)',
    );
  for (const name of ['IMT_BASE_URL', 'IC_BASE_URL'] as const) {
    if (e[name]?.startsWith('http://') && !isTrue(e.ALLOW_INSECURE_URLS))
      problems.push(
        `${name}: must be an https:// URL (credentials and payments would cross the network in clear); set ALLOW_INSECURE_URLS=true only for a test rig on a private network`,
      );
  }
  problems.push(...ingressTlsProblems(e));
  const embedded = !e.IMT_BASE_URL && !e.IC_BASE_URL;
  if (!embedded && role !== 'worker' && !s.ingressId)
    problems.push(
      'INGRESS_INTEGRATOR_ID (or INGRESS_INTEGRATOR_ID_FILE) is required when IMT_BASE_URL or IC_BASE_URL is set',
    );
  // The ingress never calls IC: only the processes that use both systems must not mix real and simulated.
  if (role !== 'ingress') problems.push(...oneSimulatorProblems(e));
  return problems;
}

/** Both TLS files or neither, and both readable now (the ingress reads them again on reload). */
function ingressTlsProblems(e: Record<string, string>): string[] {
  const cert = e.INGRESS_TLS_CERT_FILE;
  const key = e.INGRESS_TLS_KEY_FILE;
  if (!cert && !key) return [];
  if (!cert || !key)
    return [
      `${cert ? 'INGRESS_TLS_KEY_FILE' : 'INGRESS_TLS_CERT_FILE'} is required when ${cert ? 'INGRESS_TLS_CERT_FILE' : 'INGRESS_TLS_KEY_FILE'} is set: the ingress serves HTTPS with both, plain HTTP with neither`,
    ];
  const problems: string[] = [];
  for (const [name, file] of [
    ['INGRESS_TLS_CERT_FILE', cert],
    ['INGRESS_TLS_KEY_FILE', key],
  ] as const) {
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      problems.push(
        `${name} cannot be read (${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      );
    }
  }
  return problems;
}

const isTrue = (v: string | undefined) => ['true', '1', 'yes'].includes((v ?? '').toLowerCase());

/** A real IMT with the IC simulator, or the reverse: a rehearsal only when asked for by name. */
function oneSimulatorProblems(e: Record<string, string>): string[] {
  const allowed = isTrue(e.ALLOW_ONE_SIMULATOR);
  if (allowed || Boolean(e.IMT_BASE_URL) === Boolean(e.IC_BASE_URL)) return [];
  const [real, simulated, what] = e.IMT_BASE_URL
    ? ['IMT_BASE_URL', 'IC_BASE_URL', 'invoice exports and balances would go to the bundled IC simulator']
    : ['IC_BASE_URL', 'IMT_BASE_URL', "the real IC's payments would post into the bundled IMT simulator"];
  return [
    `${simulated}: must be set when ${real} is (${what}); set ${simulated}, or set ALLOW_ONE_SIMULATOR=true to rehearse against one real system`,
  ];
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env, role: ProcessRole = 'all'): AppConfig {
  const env = withoutBlanks(rawEnv);
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Never echo the received value: it might be a secret pasted into the wrong variable.
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  }
  const secrets = readSecrets(env, problems);
  problems.push(...requiredTogether(env, secrets, role));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return { ...appConfigOf(parsed.data, secrets), role };
}

function appConfigOf(e: Env, s: Secrets): AppConfig {
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      taskQueues: taskQueuesOf(e.TEMPORAL_TASK_QUEUE),
      embeddedPort: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
    },
    imt: {
      baseUrl: e.IMT_BASE_URL,
      integratorId: s.imtIntegratorId,
      timeoutMs: e.IMT_TIMEOUT_MS,
      simulatorPort: e.IMT_SIMULATOR_PORT,
    },
    ic: {
      baseUrl: e.IC_BASE_URL,
      billerGuid: e.IC_BILLER_GUID,
      webServiceKey: s.icKey,
      simulatorPort: e.IC_SIMULATOR_PORT,
    },
    ingress: {
      port: e.INGRESS_PORT,
      tls:
        e.INGRESS_TLS_CERT_FILE && e.INGRESS_TLS_KEY_FILE
          ? { certFile: path.resolve(e.INGRESS_TLS_CERT_FILE), keyFile: path.resolve(e.INGRESS_TLS_KEY_FILE) }
          : undefined,
      integratorId: s.ingressId,
      confirmWaitMs: e.PAYMENT_CONFIRM_WAIT_MS,
      rateLimitPerMinute: e.INGRESS_RATE_LIMIT_PER_MINUTE,
      maxInFlight: e.INGRESS_MAX_IN_FLIGHT,
    },
    dataDir: path.resolve(e.DATA_DIR),
    alertWebhookUrl: e.ALERT_WEBHOOK_URL,
    logLevel: e.LOG_LEVEL,
    unknownPaymentWaitMs: e.UNKNOWN_PAYMENT_WAIT_MS,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    exportFileRetentionDays: e.EXPORT_FILE_RETENTION_DAYS,
    allowPlaintextPayloads: e.PAYLOAD_ALLOW_PLAINTEXT,
    bif: { dateFormat: e.BIF_DATE_FORMAT },
    export: { approvalRequired: e.EXPORT_APPROVAL_REQUIRED, scheduleTimeZone: e.EXPORT_SCHEDULE_TIMEZONE },
    biller: { timeZone: e.BILLER_TIME_ZONE },
    embedded: !e.IMT_BASE_URL && !e.IC_BASE_URL,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH ? path.resolve(e.WORKFLOW_BUNDLE_PATH) : undefined,
    payloadKeys: s.payloadKeys,
  };
}

/** The Temporal frontend to use: the configured one, else the embedded dev server's port. */
export function temporalAddressOf(config: AppConfig): string {
  return config.temporal.address ?? embeddedTemporalAddress(config.temporal.embeddedPort);
}

/**
 * The payments pool's task queue: where the ingress starts transaction runs and what its
 * /healthz checks for pollers (domain/task-queues.ts).
 */
export function paymentsTaskQueue(config: Pick<AppConfig, 'temporal'>): string {
  return taskQueuesOf(config.temporal.taskQueue).payments;
}

/** The bulk pool's task queue: exports, reconciliation, balance refresh, adjustments, alerts. */
export function bulkTaskQueue(config: Pick<AppConfig, 'temporal'>): string {
  return taskQueuesOf(config.temporal.taskQueue).bulk;
}

/** Where the embedded dev server listens: loopback, TEMPORAL_PORT. */
export function embeddedTemporalAddress(port: number | string): string {
  return `127.0.0.1:${port}`;
}

/** Every secret value in the config, for log/error scrubbing. */
export function secretValues(config: AppConfig): string[] {
  return [
    config.imt.integratorId,
    config.ic.webServiceKey,
    config.ingress.integratorId,
    ...(config.payloadKeys ?? []).map((k) => k.key.toString('base64')),
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}
