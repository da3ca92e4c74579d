/**
 * The chaos run's real processes: the Temporal dev server (or the PostgreSQL-backed local
 * cluster), the IMT + IC simulators, the worker(s) and the ingress. Each is an OS process
 * of its own, so a SIGKILL here is the real thing: no `finally`, no graceful shutdown.
 *
 * `commandFor` is the ONE place that says how each kind of process is launched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SQLITE_PRAGMAS } from '../dev/temporal-server';
import { ensureNamespace } from '../dev/namespace';
import { ALL_SEARCH_ATTRIBUTES } from '../domain';

export const ROOT = path.resolve(__dirname, '..');

export type ProcessKind =
  'temporal-dev' | 'simulators' | 'worker' | 'worker-payments' | 'worker-bulk' | 'ingress';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporalCli = require(path.join(ROOT, 'scripts', 'temporal-cli.cjs')) as {
  ensureTemporalCli(log?: (line: string) => void): Promise<string | undefined>;
};

/**
 * argv of each process kind: the service's parts run as `imt-ic worker [--pool P]` /
 * `imt-ic ingress` (app/main.ts); `worker` serves both pools, `worker-<pool>` one.
 */
export async function commandFor(
  kind: ProcessKind,
  o: { temporalPort?: number; dbFile?: string } = {},
): Promise<{ file: string; args: string[] }> {
  const node = (script: string, ...args: string[]) => ({
    file: process.execPath,
    args: ['--require', 'tsx/cjs', path.join(ROOT, script), ...args],
  });
  switch (kind) {
    case 'worker':
      return node('app/main.ts', 'worker');
    case 'worker-payments':
      return node('app/main.ts', 'worker', '--pool', 'payments');
    case 'worker-bulk':
      return node('app/main.ts', 'worker', '--pool', 'bulk');
    case 'ingress':
      return node('app/main.ts', 'ingress');
    case 'simulators':
      return node('simulators/main.ts');
    case 'temporal-dev': {
      const cli = await temporalCli.ensureTemporalCli();
      if (!cli) throw new Error('Temporal CLI not found: run `node scripts/bootstrap.mjs` first');
      return {
        file: cli,
        args: [
          'server',
          'start-dev',
          '--headless',
          '--ip',
          '127.0.0.1',
          '--port',
          String(o.temporalPort),
          '--db-filename',
          String(o.dbFile),
          '--log-level',
          'error',
          ...SQLITE_PRAGMAS,
          ...ALL_SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=Keyword`]),
        ],
      };
    }
  }
}

/** The cluster target's workers, in the fault schedule's order: two payments workers, one bulk. */
export const CLUSTER_WORKERS = ['worker-payments', 'worker-payments', 'worker-bulk'] as const;

const everyChild = new Set<ChildProcess>();
// If the chaos run dies, none of its processes may outlive it.
process.once('exit', () => everyChild.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

/** A managed child: restartable with the same argv and env, its output appended to one log file. */
export class Managed {
  child?: ChildProcess;
  starts = 0;
  constructor(
    readonly name: string,
    private readonly command: { file: string; args: string[] },
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly ready: (log: () => string) => Promise<void>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process unless it is running already. */
  async start(): Promise<void> {
    if (this.alive) return;
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `\n=== start #${++this.starts} at ${new Date().toISOString()}\n`);
    const offset = fs.fstatSync(fd).size;
    const child = spawn(this.command.file, this.command.args, {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    this.child = child;
    everyChild.add(child);
    child.once('exit', () => everyChild.delete(child));
    const tail = () => readFrom(this.logFile, offset);
    await Promise.race([
      this.ready(tail),
      new Promise<never>((_, reject) =>
        child.once('exit', (code, signal) =>
          reject(new Error(`${this.name} exited (${code ?? signal}) at start:\n${tail().slice(-1500)}`)),
        ),
      ),
    ]);
  }

  /** SIGKILL and wait until the OS has reaped it. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/** Resolves when `check` passes; throws after `timeoutMs` with `what` and the log's tail. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  log: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${timeoutMs / 1000} s:\n${log().slice(-1500)}`);
    }
    await sleep(200);
  }
}

export const logSays = (text: string) => (log: () => string) =>
  waitUntil(`"${text}" in the log`, () => log().includes(text), 180_000, log);

export async function temporalReachable(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: '2 seconds' });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** The dev server as a process of its own on a SQLite file (kill + restart keep the file). */
export async function devServer(port: number, dbFile: string, logFile: string): Promise<Managed> {
  const address = `127.0.0.1:${port}`;
  const managed = new Managed(
    'temporal dev server',
    await commandFor('temporal-dev', { temporalPort: port, dbFile }),
    process.env,
    logFile,
    (log) => waitUntil('Temporal dev server', () => temporalReachable(address), 60_000, log),
  );
  await managed.start();
  const connection = await Connection.connect({ address });
  try {
    await ensureNamespace(connection, 'default');
  } finally {
    await connection.close();
  }
  return managed;
}

/** Free TCP ports below 32768 (Temporal keeps membership ports in a smallint). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) ports.add(port);
  }
  return [...ports];
}

/** Resident set size of a process in bytes (Linux /proc), 0 when it is gone. */
export function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Direct children of this process whose argv[0] matches (the cluster's server / PostgreSQL). */
export function childPidsRunning(match: (file: string) => boolean): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0] && match(argv[0])) out.push({ pid: Number(entry), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
