/**
 * `--target cluster`: the PostgreSQL-backed local Temporal cluster (dev/cluster.ts), plus the
 * two restarts the chaos schedule needs — the Temporal server process (SIGKILL, then the same
 * argv again) and PostgreSQL (an immediate shutdown, i.e. a crash, then crash recovery).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startCluster, type LocalCluster } from '../dev/cluster';
import { childPidsRunning, temporalReachable, waitUntil } from './processes';

export interface ChaosCluster {
  address: string;
  restartTemporal(): Promise<void>;
  restartPostgres(): Promise<void>;
  stop(): Promise<void>;
}

interface Proc {
  pid: number;
  argv: string[];
  child?: ChildProcess;
}

export async function chaosCluster(dataDir: string, log: (line: string) => void): Promise<ChaosCluster> {
  const cluster: LocalCluster = await startCluster({ dataDir, log, serverLogLevel: 'error' });
  // The two children startCluster spawned: PostgreSQL's postmaster and the Temporal server.
  const find = (suffix: string): Proc => {
    const found = childPidsRunning((file) => file.endsWith(suffix));
    if (!found[0]) throw new Error(`no ${suffix} process found among this run's children`);
    return found[0];
  };
  let server = find('/server');
  let postgres = find('/postgres');
  const pgData = postgres.argv[postgres.argv.indexOf('-D') + 1];
  const owner = fs.statSync(pgData);

  const respawn = (p: Proc, logName: string, identity: { uid?: number; gid?: number }): Proc => {
    const fd = fs.openSync(path.join(cluster.dir, logName), 'a');
    const child = spawn(p.argv[0], p.argv.slice(1), {
      stdio: ['ignore', fd, fd],
      detached: true,
      ...identity,
    });
    fs.closeSync(fd);
    return { pid: child.pid ?? 0, argv: p.argv, child };
  };
  const waitGone = (pid: number) =>
    waitUntil(`process ${pid} to exit`, () => !fs.existsSync(`/proc/${pid}`) || isZombie(pid), 60_000);

  const restartTemporal = async () => {
    process.kill(server.pid, 'SIGKILL');
    await waitGone(server.pid);
    server = respawn(server, 'temporal-server.log', {});
    await waitUntil('Temporal server after restart', () => temporalReachable(cluster.address), 120_000);
  };
  const restartPostgres = async () => {
    // SIGQUIT = PostgreSQL's immediate shutdown: no checkpoint, crash recovery at the next start.
    process.kill(postgres.pid, 'SIGQUIT');
    await waitGone(postgres.pid);
    postgres = respawn(postgres, 'postgres.log', { uid: owner.uid, gid: owner.gid });
    const pgPort = Number(postgres.argv[postgres.argv.indexOf('-p') + 1]);
    await waitUntil('PostgreSQL after its crash', () => accepts(pgPort), 120_000);
    await waitUntil(
      'Temporal server on restarted PostgreSQL',
      () => temporalReachable(cluster.address),
      120_000,
    );
  };
  const stop = async () => {
    for (const p of [server, postgres]) {
      if (!p.child) continue;
      try {
        process.kill(p.pid, p === postgres ? 'SIGINT' : 'SIGTERM');
        await waitGone(p.pid);
      } catch {
        // already gone
      }
    }
    await cluster.stop();
  };
  return { address: cluster.address, restartTemporal, restartPostgres, stop };
}

/** True when something accepts TCP connections on this loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
