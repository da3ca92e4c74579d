/**
 * The embedded Temporal dev server (Temporal CLI `server start-dev`), used by `npm start`
 * when TEMPORAL_ADDRESS is unset, by the tests and by the benchmark.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../domain';
import { ensureNamespace } from './namespace';

// Plain CommonJS shared with scripts/bootstrap.mjs; found from sources (tsx) and from lib/ (npm run build).
const CLI_SCRIPT = ['..', '../..']
  .map((up) => path.join(__dirname, up, 'scripts', 'temporal-cli.cjs'))
  .find((file) => fs.existsSync(file)) as string;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cli = require(CLI_SCRIPT) as {
  locateTemporalCli(): string | undefined;
  ensureTemporalCli(log?: (line: string) => void): Promise<string | undefined>;
};

export interface DevServerOptions {
  /** SQLite file; undefined = in memory. */
  dbFilename?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  log?: (line: string) => void;
  /** The server's own log level (default warn); the benchmark overloads it on purpose and uses error. */
  serverLogLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** The UI decodes payloads through this codec server (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** The server's Prometheus endpoint on this port (default: a random one, not reported). */
  metricsPort?: number;
}

/** WAL + synchronous=normal: measured ≈2× the throughput of SQLite's defaults here (shared/VERIFIED.md). */
export const SQLITE_PRAGMAS = [
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
];

export async function startDevServer(opts: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const cliPath = await cli.ensureTemporalCli(opts.log);
  if (opts.dbFilename) fs.mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cliPath ? { type: 'existing-path', path: cliPath } : { type: 'cached-download' },
      ip: '127.0.0.1',
      port: opts.port,
      ui: opts.uiPort !== undefined,
      uiPort: opts.uiPort,
      namespace: opts.namespace ?? 'default',
      dbFilename: opts.dbFilename,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: [
        ...(opts.dbFilename ? SQLITE_PRAGMAS : []),
        ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
        ...(opts.metricsPort !== undefined ? ['--metrics-port', String(opts.metricsPort)] : []),
      ],
      log: { format: 'pretty', level: opts.serverLogLevel ?? 'warn' },
    },
  });
  // start-dev creates its namespace with one day of retention; the design needs 90 (dev/namespace.ts).
  await ensureNamespace(env.connection, opts.namespace ?? 'default');
  return env;
}
