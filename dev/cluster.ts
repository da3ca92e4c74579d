/**
 * A real Temporal cluster on PostgreSQL on this machine — the way Temporal runs in
 * production, without a Docker engine: Debian's PostgreSQL 15, the schema applied with
 * temporal-sql-tool, and the Temporal server (all four services in one process), all built
 * from the Go module proxy at v1.29.1 (scripts/temporal-server.cjs). Used by
 * `npm run cluster` and by the tests with TEST_TEMPORAL=cluster.
 *
 * State lives in <dataDir>/temporal-cluster: the PostgreSQL data directory (initdb'd once,
 * kept across restarts), its unix socket, the generated server config and both logs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import YAML from 'yaml';
import { ensureNamespace, ensureSearchAttributes } from './namespace';
import { clusterCertificates, envconfigVariables, serverTlsConfig, type ClusterTls } from './cluster-tls';

const SERVER_SCRIPT = ['..', '../..']
  .map((up) => path.join(__dirname, up, 'scripts', 'temporal-server.cjs'))
  .find((file) => fs.existsSync(file)) as string;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverScript = require(SERVER_SCRIPT) as {
  ensureTemporalServer(
    log?: (line: string) => void,
  ): Promise<{ server: string; sql: string; moduleDir: string }>;
};

const PG_USER = 'temporal';
const DATABASES = { default: 'temporal', visibility: 'temporal_visibility' } as const;

export interface ClusterOptions {
  dataDir: string;
  /** Frontend gRPC port; 0 = any free port. */
  port?: number;
  namespace?: string;
  log?: (line: string) => void;
  serverLogLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** mTLS on the frontend with certificates made under <dataDir>/temporal-cluster/tls. */
  tls?: boolean;
  /** The server's Prometheus endpoint on this loopback port (default: none). */
  metricsPort?: number;
}

export interface LocalCluster {
  address: string;
  namespace: string;
  postgresPort: number;
  dir: string;
  /** Seconds spent in each start-up step (the binaries were already built). */
  timings: Record<string, number>;
  /** With `tls`: the certificates, and the TEMPORAL_TLS_* variables a client sets. */
  tls?: ClusterTls & { env: Record<string, string> };
  stop(): Promise<void>;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Free ports below 32768: Temporal stores membership ports in a PostgreSQL smallint, so the
 * kernel's ephemeral range (32768+) makes the server die at start.
 */
async function freePorts(count: number, taken: number[] = []): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (!taken.includes(p) && !ports.has(p) && (await canListen(p))) ports.add(p);
  }
  return [...ports];
}

/** Debian installs each PostgreSQL major under /usr/lib/postgresql/<major>/bin; prefer 15. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const major = majors.includes('15') ? '15' : majors[0];
  const bin = major ? path.join(root, major, 'bin') : undefined;
  if (!bin || !fs.existsSync(path.join(bin, 'postgres'))) {
    throw new Error(
      'PostgreSQL is not installed: `apt-get install postgresql` (Debian installs /usr/lib/postgresql/15/bin)',
    );
  }
  return bin;
}

type PgIdentity = { uid: number; gid: number };

/** PostgreSQL refuses to run as root: run it as the `postgres` user (or `nobody`) then. */
function postgresIdentity(): PgIdentity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  throw new Error('running as root, but there is no `postgres` or `nobody` user to run PostgreSQL as');
}

function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
) {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    uid: opts.uid,
    gid: opts.gid,
  });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().slice(-1500);
    throw new Error(`${path.basename(file)} ${args[args.length - 1]} failed (exit ${r.status}): ${out}`);
  }
  return r.stdout;
}

async function waitFor(
  what: string,
  child: ChildProcess,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  logFile: string,
) {
  const deadline = Date.now() + timeoutMs;
  const tail = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-1500) : '');
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}); ${logFile} ends with:\n${tail()}`,
      );
    }
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} did not become ready in ${timeoutMs / 1000} s; ${logFile} ends with:\n${tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals,
  timeoutMs = 15_000,
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** PostgreSQL's files under <dataDir>/temporal-cluster, reachable by the user it runs as. */
function clusterDirs(dataDir: string, identity: PgIdentity | undefined) {
  const dir = path.resolve(dataDir, 'temporal-cluster');
  const pgData = path.join(dir, 'postgres');
  const socketDir = path.join(dir, 'pg-socket');
  fs.mkdirSync(socketDir, { recursive: true });
  if (identity) {
    fs.chownSync(dir, identity.uid, identity.gid);
    fs.chownSync(socketDir, identity.uid, identity.gid);
    const probe = spawnSync('test', ['-w', dir], identity);
    if (probe.status !== 0) {
      throw new Error(
        `PostgreSQL runs as uid ${identity.uid} (not root) and cannot reach ${dir}: choose a DATA_DIR outside root-only directories such as /root`,
      );
    }
  }
  return { dir, pgData, socketDir };
}

/** The database password: generated once, kept 0600 next to the data directory. */
function databasePassword(dir: string): string {
  const passwordFile = path.join(dir, 'postgres-password');
  if (!fs.existsSync(passwordFile)) {
    fs.writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  return fs.readFileSync(passwordFile, 'utf8').trim();
}

/** Creates the PostgreSQL data directory unless it exists; returns whether it did. */
function initPostgres(
  c: { pgBin: string; dir: string; pgData: string; identity?: PgIdentity },
  password: string,
  log: (line: string) => void,
): boolean {
  if (fs.existsSync(path.join(c.pgData, 'PG_VERSION'))) return false;
  log(`[cluster] initdb ${c.pgData}`);
  const pwfile = path.join(c.dir, '.initdb-pw');
  fs.writeFileSync(pwfile, password, { mode: 0o600 });
  try {
    if (c.identity) fs.chownSync(pwfile, c.identity.uid, c.identity.gid);
    run(
      path.join(c.pgBin, 'initdb'),
      ['-D', c.pgData, '-U', PG_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8'],
      c.identity ?? {},
    );
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  return true;
}

/** Starts PostgreSQL on a free port (added to `children` at once) and waits until it accepts connections. */
async function startPostgres(
  c: { pgBin: string; dir: string; pgData: string; socketDir: string; identity?: PgIdentity },
  children: ChildProcess[],
): Promise<number> {
  const [pgPort] = await freePorts(1);
  const pgLog = fs.openSync(path.join(c.dir, 'postgres.log'), 'a');
  const postgres = spawn(
    path.join(c.pgBin, 'postgres'),
    ['-D', c.pgData, '-p', String(pgPort), '-k', c.socketDir, '-c', 'listen_addresses=127.0.0.1'],
    { stdio: ['ignore', pgLog, pgLog], detached: true, ...c.identity },
  );
  fs.closeSync(pgLog);
  children.push(postgres);
  await waitFor(
    'PostgreSQL',
    postgres,
    () => {
      return (
        spawnSync(path.join(c.pgBin, 'pg_isready'), ['-h', c.socketDir, '-p', String(pgPort), '-q'])
          .status === 0
      );
    },
    30_000,
    path.join(c.dir, 'postgres.log'),
  );
  return pgPort;
}

/** Schema: created once, then brought up to this server version on every start. */
function applySchema(
  c: { sqlTool: string; moduleDir: string; dir: string },
  pgPort: number,
  password: string,
): void {
  const schemaRoot = path.join(c.moduleDir, 'schema', 'postgresql', 'v12');
  const sqlEnv = { ...process.env, SQL_PASSWORD: password };
  const sql = (db: string, ...args: string[]) =>
    run(
      c.sqlTool,
      [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(pgPort),
        '-u',
        PG_USER,
        '--db',
        db,
        ...args,
      ],
      { env: sqlEnv },
    );
  for (const [store, db] of [
    ['temporal', DATABASES.default],
    ['visibility', DATABASES.visibility],
  ] as const) {
    const marker = path.join(c.dir, `schema-created-${db}`);
    if (!fs.existsSync(marker)) {
      sql(db, 'create-database');
      sql(db, 'setup-schema', '-v', '0.0');
      fs.writeFileSync(marker, '');
    }
    sql(db, 'update-schema', '-d', path.join(schemaRoot, store, 'versioned'));
  }
}

/**
 * Starts the Temporal server (added to `children` at once) and waits until its frontend at
 * `address` answers; returns that connection (the caller closes it).
 */
async function startServer(
  c: { server: string; dir: string; configDir: string; tls?: ClusterTls },
  address: string,
  children: ChildProcess[],
): Promise<Connection> {
  const serverLogFile = path.join(c.dir, 'temporal-server.log');
  const serverLog = fs.openSync(serverLogFile, 'a');
  const server = spawn(
    c.server,
    [
      '--root',
      c.dir,
      '--config',
      path.relative(c.dir, c.configDir),
      '--env',
      'cluster',
      '--allow-no-auth',
      'start',
    ],
    { stdio: ['ignore', serverLog, serverLog], detached: true },
  );
  fs.closeSync(serverLog);
  children.push(server);
  let connection: Connection | undefined;
  await waitFor(
    'Temporal server',
    server,
    async () => {
      connection = await Connection.connect({
        address,
        connectTimeout: '2 seconds',
        ...(c.tls ? { tls: connectionTls(c.tls) } : {}),
      });
      await connection.workflowService.getSystemInfo({});
      return true;
    },
    60_000,
    serverLogFile,
  );
  if (!connection) throw new Error('unreachable');
  return connection;
}

export async function startCluster(opts: ClusterOptions): Promise<LocalCluster> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const namespace = opts.namespace ?? 'default';
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (step: string) => {
    timings[step] = (Date.now() - mark) / 1000;
    mark = Date.now();
  };

  const bins = await serverScript.ensureTemporalServer(log);
  lap('binaries');
  const pgBin = postgresBin();
  const identity = postgresIdentity();
  const { dir, pgData, socketDir } = clusterDirs(opts.dataDir, identity);
  const password = databasePassword(dir);
  if (initPostgres({ pgBin, dir, pgData, identity }, password, log)) lap('initdb');

  const children: ChildProcess[] = [];
  // If this process dies without stop(), the children must not outlive it.
  const killChildren = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  process.once('exit', killChildren);
  const stop = async () => {
    await stopChild(children[1], 'SIGTERM');
    await stopChild(children[0], 'SIGINT'); // PostgreSQL's "fast" shutdown
    process.removeListener('exit', killChildren);
  };

  try {
    const pgPort = await startPostgres({ pgBin, dir, pgData, socketDir, identity }, children);
    lap('postgres');
    applySchema({ sqlTool: bins.sql, moduleDir: bins.moduleDir, dir }, pgPort, password);
    lap('schema');

    const frontendPort = opts.port ? opts.port : (await freePorts(1, [pgPort]))[0];
    const tls = opts.tls ? clusterCertificates(path.join(dir, 'tls')) : undefined;
    const configDir = writeServerConfig({
      dir,
      moduleDir: bins.moduleDir,
      pgPort,
      password,
      frontendPort,
      ports: await freePorts(9, [pgPort, frontendPort]),
      logLevel: opts.serverLogLevel ?? 'warn',
      tls,
      metricsPort: opts.metricsPort,
    });
    const address = `127.0.0.1:${frontendPort}`;
    const connection = await startServer({ server: bins.server, dir, configDir, tls }, address, children);
    lap('server');
    try {
      await ensureNamespace(connection, namespace);
      await ensureSearchAttributes(connection, namespace);
    } finally {
      await connection.close();
    }
    lap('namespace');
    return {
      address,
      namespace,
      postgresPort: pgPort,
      dir,
      timings,
      stop,
      ...(tls ? { tls: { ...tls, env: envconfigVariables(tls) } } : {}),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Adapts the module's config/development-postgres12.yaml (read-only in the Go module cache):
 * our PostgreSQL, free ports for the internal services, the frontend on loopback, no pprof
 * listener, a metrics listener only when asked for, and the SQL dynamic config plus what a local cluster needs.
 */
function writeServerConfig(o: {
  dir: string;
  moduleDir: string;
  pgPort: number;
  password: string;
  frontendPort: number;
  /** Free ports for the other listeners (internal gRPC, membership, HTTP). */
  ports: number[];
  logLevel: string;
  tls?: ClusterTls;
  metricsPort?: number;
}): string {
  const configDir = path.join(o.dir, 'config');
  fs.mkdirSync(path.join(configDir, 'dynamicconfig'), { recursive: true });
  const src = path.join(o.moduleDir, 'config');
  const config = YAML.parse(fs.readFileSync(path.join(src, 'development-postgres12.yaml'), 'utf8'));

  config.log = { stdout: true, level: o.logLevel };
  for (const store of Object.values(config.persistence.datastores) as { sql: Record<string, unknown> }[]) {
    store.sql.connectAddr = `127.0.0.1:${o.pgPort}`;
    store.sql.user = PG_USER;
    store.sql.password = o.password;
  }
  delete config.global.pprof;
  delete config.global.metrics;
  if (o.tls) config.global.tls = serverTlsConfig(o.tls);
  if (o.metricsPort !== undefined) {
    config.global.metrics = {
      prometheus: { timerType: 'histogram', listenAddress: `127.0.0.1:${o.metricsPort}` },
    };
  }
  const spare = [...o.ports];
  const nextPort = () => spare.shift() as number;
  for (const [name, service] of Object.entries(config.services) as [
    string,
    { rpc: Record<string, unknown> },
  ][]) {
    service.rpc.grpcPort = name === 'frontend' ? o.frontendPort : nextPort();
    service.rpc.membershipPort = nextPort();
    service.rpc.bindOnLocalHost = true;
    if ('httpPort' in service.rpc) service.rpc.httpPort = nextPort();
  }
  config.clusterMetadata.clusterInformation.active.rpcAddress = `127.0.0.1:${o.frontendPort}`;
  config.dynamicConfigClient.filepath = path.join(configDir, 'dynamicconfig', 'cluster.yaml');

  const dynamic = YAML.parse(
    fs.readFileSync(path.join(src, 'dynamicconfig', 'development-sql.yaml'), 'utf8'),
  );
  // Search attributes registered a moment ago are usable at once (as on the dev server).
  dynamic['system.forceSearchAttributesCacheRefreshOnRead'] = [{ value: true, constraints: {} }];
  dynamic['component.nexusoperations.callback.endpoint.template'] = [
    {
      value: `http://127.0.0.1:${config.services.frontend.rpc.httpPort}/namespaces/{{.NamespaceName}}/nexus/callback`,
    },
  ];
  fs.writeFileSync(config.dynamicConfigClient.filepath, YAML.stringify(dynamic));
  fs.writeFileSync(path.join(configDir, 'cluster.yaml'), YAML.stringify(config), { mode: 0o600 });
  return configDir;
}

/** The SDK connection's TLS for this cluster (what envconfig builds from envconfigVariables). */
function connectionTls(tls: ClusterTls) {
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: fs.readFileSync(tls.caFile),
    clientCertPair: { crt: fs.readFileSync(tls.clientCertFile), key: fs.readFileSync(tls.clientKeyFile) },
  };
}
