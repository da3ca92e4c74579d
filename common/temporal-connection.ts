/**
 * The one place a Temporal connection is made (worker, ingress, `npm start`, CLI, tests).
 *
 * For a configured cluster (TEMPORAL_ADDRESS or the CLI's --address) TLS, mTLS and API keys
 * come from the SDK's standard environment configuration (`@temporalio/envconfig`):
 * TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
 * TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY (TLS on by default with a key),
 * TEMPORAL_GRPC_META_*, and the profile file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) — the
 * same names the `temporal` CLI and every SDK read. The address itself is always the one
 * contracts A resolves. A local server (embedded dev server, `npm run cluster`, tests) is
 * plain loopback: a developer's profile for Temporal Cloud must not redirect it.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalConnectOptions {
  address: string;
  tls?: NonNullable<Parameters<typeof Connection.connect>[0]>['tls'];
  apiKey?: string;
  metadata?: Record<string, string>;
}

export class TemporalSettingsError extends Error {
  override readonly name = 'TemporalSettingsError';
}

export function temporalConnectOptions(
  address: string,
  opts: { remote: boolean; env?: NodeJS.ProcessEnv },
): TemporalConnectOptions {
  if (!opts.remote) return { address };
  const env = Object.fromEntries(
    Object.entries(opts.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: env }).connectionOptions;
  } catch (err) {
    // Names the setting (e.g. an unreadable certificate path), never a key's value.
    throw new TemporalSettingsError(
      `Temporal connection settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY or the profile file): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const apiKey = typeof loaded.apiKey === 'string' ? loaded.apiKey : undefined;
  return {
    address,
    ...(loaded.tls !== undefined ? { tls: loaded.tls } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(loaded.metadata ? { metadata: loaded.metadata as Record<string, string> } : {}),
  };
}

/**
 * A client connection (Client, ingress, CLI, activities that read other runs). `interceptors`
 * (the bench counts RPCs) replace the SDK's default list: include its retry interceptor.
 */
export function connectTemporal(
  options: TemporalConnectOptions,
  extra: { connectTimeout?: Duration; interceptors?: ConnectionOptions['interceptors'] } = {},
): Promise<Connection> {
  return Connection.connect({
    ...options,
    ...(extra.connectTimeout ? { connectTimeout: extra.connectTimeout } : {}),
    ...(extra.interceptors ? { interceptors: extra.interceptors } : {}),
  });
}

/** The worker's native connection. */
export function connectWorkerToTemporal(options: TemporalConnectOptions): Promise<NativeConnection> {
  return NativeConnection.connect(options);
}
