/**
 * Where the CLI connects and with which identity, from the same configuration the
 * service uses (contracts A, with common/config.ts's defaults): TEMPORAL_ADDRESS (else the
 * embedded dev server on TEMPORAL_PORT), TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
 * TEMPORAL_UI_URL, INGRESS_PORT, DATA_DIR; each overridable by a global option.
 *
 * Also the one set of exit codes and failures every command ends with.
 *
 * The CLI validates only what it uses (not the whole service config), so an operator's
 * shell does not need IMT or IC credentials to list payments. The connection is opened
 * lazily — `--help` and argument errors never wait for Temporal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CommanderError, type Command } from 'commander';
import { z } from 'zod';
import { CONFIG_DEFAULTS, embeddedTemporalAddress } from '../../common/config';
import { embeddedSecretsPath, loadOrCreateEmbeddedSecrets } from '../../common/embedded';
import { readSecret } from '../../common/secrets';
import { temporalUiBaseUrl } from '../../common/ui';
import { dataProtection } from '../../common/data-protection';
import { connectTemporal, temporalConnectOptions } from '../../common/temporal-connection';
import {
  loadOrCreateLocalPayloadKeys,
  localPayloadKeysFile,
  parsePayloadKeys,
  type PayloadKey,
} from '../../common/payload-codec';
import { commandIo } from './format';

/** The exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, refused: 4 } as const;

/** A failure the operator can act on: printed as one line, exit code 1. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number = EXIT.failed;
}

/** The command line itself is wrong: exit code 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  override readonly exitCode = EXIT.usage;
}

/** No such export, schedule or reconciliation: exit code 3. */
export class NotFoundError extends CliError {
  override readonly name = 'NotFoundError';
  override readonly exitCode = EXIT.notFound;
}

/** Refused in the current state (already exported, already running, exists…): exit code 4. */
export class RefusedError extends CliError {
  override readonly name = 'RefusedError';
  override readonly exitCode = EXIT.refused;
}

/** The one line printed for a failure, and its exit code. Unexpected errors (gRPC…) give their first line. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return { message, exitCode: EXIT.failed };
}

/**
 * Every command's action runs inside this: a failure is printed as one `imt-ic: …` line on
 * the command's error output and ends the command with its exit code, as a CommanderError
 * that `runCli` (or a test's own program with `exitOverride`) receives like commander's own.
 */
export function commandAction<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      const { message, exitCode } = describeFailure(err);
      const cmd = args[args.length - 1] as Command;
      commandIo(cmd).err(`imt-ic: ${message}\n`);
      throw new CommanderError(exitCode, 'imt-ic.failed', message);
    }
  };
}

/** zod over a command's arguments or options; a problem is a usage error naming the option. */
export function parseArgs<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(describeIssues(result.error));
  return result.data;
}

/** What every command reaches Temporal with. */
export interface CommandContext {
  client: Client;
  taskQueue: string;
  namespace: string;
  temporalUiUrl?: string;
}

export type GetContext = () => Promise<CommandContext>;

export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  uiUrl?: string;
}

export interface CliSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  temporalUiUrl?: string;
  dataDir: string;
  ingressPort: number;
  /** True when the address came from --address or TEMPORAL_ADDRESS (not the local default). */
  addressGiven: boolean;
}

/**
 * The payload keys the service encrypts with (contracts A): PAYLOAD_KEYS / PAYLOAD_KEYS_FILE,
 * else — for the local server only — the key the service generated under DATA_DIR.
 */
export function resolvePayloadKeys(s: CliSettings, env: NodeJS.ProcessEnv): PayloadKey[] {
  const r = readSecret(env, 'PAYLOAD_KEYS');
  if (r.error) throw new CliError(r.error);
  if (r.value) {
    const parsed = parsePayloadKeys(r.value);
    if (!parsed.keys) throw new CliError(`PAYLOAD_KEYS: ${parsed.error}`);
    return parsed.keys;
  }
  if (s.addressGiven) {
    // A local stack started with TEMPORAL_ADDRESS set still has the key it generated earlier.
    const localFile = localPayloadKeysFile(s.dataDir);
    const hint = fs.existsSync(localFile)
      ? ` (this machine's local stack keeps its key in ${localFile}: PAYLOAD_KEYS_FILE=${localFile})`
      : '';
    throw new CliError(
      `PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE) is needed to read payloads on ${s.address}: set the same keys as the service${hint}`,
    );
  }
  return loadOrCreateLocalPayloadKeys(s.dataDir);
}

const hostPort = z
  .string()
  .regex(
    /^[\w.-]+:\d{1,5}$/,
    `must be host:port, e.g. ${embeddedTemporalAddress(CONFIG_DEFAULTS.temporalPort)}`,
  );
const name = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(200)
    .regex(/^[\w.@:-]+$/, `${what} may contain only letters, digits and . _ - : @`);
const httpUrl = z
  .string()
  .regex(
    /^https?:\/\/[^\s/]+(\/\S*)?$/,
    `must be an http(s) URL, e.g. http://${embeddedTemporalAddress(CONFIG_DEFAULTS.temporalUiPort)}`,
  )
  .transform((u) => u.replace(/\/+$/, ''));
const port = z.coerce.number().int().min(1).max(65535);

const SettingsSchema = z.object({
  address: hostPort,
  namespace: name('namespace'),
  taskQueue: name('task queue'),
  temporalUiUrl: httpUrl.optional(),
  dataDir: z.string().min(1),
  ingressPort: port,
});

/** Describes zod issues as `--option: message` (or `NAME: message` for the environment). */
export function describeIssues(error: z.ZodError, labels: Record<string, string> = {}): string {
  return error.issues
    .map((issue) => {
      const key = String(issue.path[0] ?? '');
      const label =
        labels[key] ?? (key ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : 'arguments');
      return `${label}: ${issue.message}`;
    })
    .join('; ');
}

export function resolveSettings(opts: GlobalOptions, env: NodeJS.ProcessEnv): CliSettings {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const parsed = SettingsSchema.safeParse({
    address:
      opts.address ??
      blank(env.TEMPORAL_ADDRESS) ??
      embeddedTemporalAddress(blank(env.TEMPORAL_PORT) ?? CONFIG_DEFAULTS.temporalPort),
    namespace: opts.namespace ?? blank(env.TEMPORAL_NAMESPACE) ?? CONFIG_DEFAULTS.temporalNamespace,
    taskQueue: opts.taskQueue ?? blank(env.TEMPORAL_TASK_QUEUE) ?? CONFIG_DEFAULTS.temporalTaskQueue,
    temporalUiUrl: opts.uiUrl ?? temporalUiBaseUrl(env),
    dataDir: blank(env.DATA_DIR) ?? CONFIG_DEFAULTS.dataDir,
    ingressPort: blank(env.INGRESS_PORT) ?? CONFIG_DEFAULTS.ingressPort,
  });
  if (!parsed.success) {
    throw new UsageError(
      describeIssues(parsed.error, {
        address: '--address / TEMPORAL_ADDRESS',
        namespace: '--namespace / TEMPORAL_NAMESPACE',
        taskQueue: '--task-queue / TEMPORAL_TASK_QUEUE',
        temporalUiUrl: '--ui-url / TEMPORAL_UI_URL',
        dataDir: 'DATA_DIR',
        ingressPort: 'INGRESS_PORT',
      }),
    );
  }
  return {
    ...parsed.data,
    dataDir: path.resolve(parsed.data.dataDir),
    addressGiven: Boolean(opts.address ?? blank(env.TEMPORAL_ADDRESS)),
  };
}

export interface ContextProvider {
  get: GetContext;
  settings(): CliSettings;
  close(): Promise<void>;
}

/**
 * Lazily connects on first use and reuses the connection for the rest of the command.
 * `settings` is resolved on first use too, because global options are only known once
 * commander has parsed the command line.
 */
export function createContextProvider(options: () => GlobalOptions, env: NodeJS.ProcessEnv): ContextProvider {
  let settings: CliSettings | undefined;
  let connecting: Promise<{ connection: Connection; context: CommandContext }> | undefined;
  const getSettings = () => (settings ??= resolveSettings(options(), env));

  return {
    settings: getSettings,
    get: async () => {
      const s = getSettings();
      // Before connecting: without the keys no payload can be read or written.
      const protection = dataProtection(resolvePayloadKeys(s, env));
      let connectOptions;
      try {
        connectOptions = temporalConnectOptions(s.address, { remote: s.addressGiven, env });
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err));
      }
      connecting ??= connectTemporal(connectOptions, { connectTimeout: '5 seconds' }).then(
        (connection) => ({
          connection,
          context: {
            client: new Client({
              connection,
              namespace: s.namespace,
              ...protection,
            }),
            namespace: s.namespace,
            taskQueue: s.taskQueue,
            temporalUiUrl: s.temporalUiUrl,
          },
        }),
        (err: unknown) => {
          connecting = undefined;
          throw new CliError(
            `cannot reach Temporal at ${s.address} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}). ` +
              'Is the service running (npm start)? Set TEMPORAL_ADDRESS or pass --address.',
          );
        },
      );
      return (await connecting).context;
    },
    close: async () => {
      const pending = connecting;
      connecting = undefined;
      if (pending) await (await pending.catch(() => undefined))?.connection.close();
    },
  };
}

/**
 * The X-Integrator-ID the ingress expects: INGRESS_INTEGRATOR_ID (or its _FILE), else the
 * embedded demo stack's credentials file in DATA_DIR. Returned to the caller only to be
 * put in a request header — never printed, never logged.
 */
export function ingressIntegratorId(env: NodeJS.ProcessEnv, dataDir: string): string {
  const configured = readSecret(env, 'INGRESS_INTEGRATOR_ID');
  if (configured.error) throw new CliError(configured.error);
  if (configured.value) return configured.value;
  // Only read an existing file: creating one would invent credentials no running ingress knows.
  if (fs.existsSync(embeddedSecretsPath(dataDir)))
    return loadOrCreateEmbeddedSecrets(dataDir).ingressIntegratorId;
  throw new CliError(
    `no X-Integrator-ID for the ingress: set INGRESS_INTEGRATOR_ID (or INGRESS_INTEGRATOR_ID_FILE), or run from the directory whose DATA_DIR (${dataDir}) holds the embedded stack's credentials.`,
  );
}
