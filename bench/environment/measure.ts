/**
 * Measuring instruments of the bench: percentiles, and CPU time of this process, of the
 * Temporal dev server process and of the whole machine (from /proc), so each run can say how
 * much of the two cores was ours and how much other people's load.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface Percentiles {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface CpuUse {
  wallSeconds: number;
  /** This process: ingress, worker (incl. SDK core threads), simulator, load generator. */
  nodeCpuSeconds: number;
  /** The Temporal dev server process. */
  serverCpuSeconds?: number;
  /** Every process on the machine (from /proc/stat). */
  machineBusySeconds?: number;
  /** Machine busy time not spent by this process or the server: other people's load. */
  otherCpuSeconds?: number;
  cores: number;
  /** Share of the main thread's time the event loop was busy. */
  eventLoopUtilization: number;
  /** CPU time per workflow / payment of the run (ms). */
  nodeCpuMsPerItem: number;
  serverCpuMsPerItem?: number;
  /** Share of the machine's capacity used by other processes during the run (0–1). */
  otherLoad?: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { n: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank percentile.
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1],
  };
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!port) throw new Error('could not find a free port');
  return port;
}

/** Runs `task(0 … n-1)` with at most `concurrency` in flight. */
export function evenlySpaced<T>(items: T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, k) => items[Math.floor((k * items.length) / count)]);
}

/** Seconds from `t0` until 99% of `doneAt` (ms) had happened. */
export function secondsTo99(t0: number, doneAt: number[]): number {
  const sorted = [...doneAt].sort((a, b) => a - b);
  return (sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)] - t0) / 1000;
}

export const ninetyNine = (n: number) => Math.ceil(0.99 * n);

// ---------------------------------------------------------------------------
// CPU accounting: this process, the dev server process, the whole machine

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readProcTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) … utime(11) stime(12).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function readMachineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
    const idle = v[3] + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** The dev server: a child process of this one whose command line mentions `start-dev`. */
export function findDevServerPid(): number | undefined {
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) continue;
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev')) return pid;
      } catch {
        // The process went away while we looked.
      }
    }
  } catch {
    // No /proc: no server CPU figures.
  }
  return undefined;
}

export interface CpuMark {
  wall: number;
  node: NodeJS.CpuUsage;
  server?: number;
  machine?: { busy: number; total: number };
  elu: EventLoopUtilization;
}

/** CPU spent between two marks; summed over the rounds of a run by `cpuUse`. */
export interface CpuRaw {
  wallSeconds: number;
  nodeCpuSeconds: number;
  serverCpuSeconds?: number;
  machineBusySeconds?: number;
  eluActive: number;
  eluIdle: number;
}

export function markCpu(serverPid: number | undefined): CpuMark {
  return {
    wall: performance.now(),
    node: process.cpuUsage(),
    server: serverPid === undefined ? undefined : readProcTicks(serverPid),
    machine: readMachineTicks(),
    elu: performance.eventLoopUtilization(),
  };
}

export function cpuSince(mark: CpuMark, serverPid: number | undefined): CpuRaw {
  const now = markCpu(serverPid);
  const hz = ticksPerSecond();
  const node = process.cpuUsage(mark.node);
  const elu = performance.eventLoopUtilization(now.elu, mark.elu);
  return {
    wallSeconds: (now.wall - mark.wall) / 1000,
    nodeCpuSeconds: (node.user + node.system) / 1e6,
    serverCpuSeconds:
      mark.server !== undefined && now.server !== undefined ? (now.server - mark.server) / hz : undefined,
    machineBusySeconds: mark.machine && now.machine ? (now.machine.busy - mark.machine.busy) / hz : undefined,
    eluActive: elu.active,
    eluIdle: elu.idle,
  };
}

function sumOptional(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : values.reduce<number>((s, v) => s + (v ?? 0), 0);
}

export function cpuUse(raws: CpuRaw[], items: number): CpuUse {
  const wallSeconds = raws.reduce((s, r) => s + r.wallSeconds, 0);
  const nodeCpuSeconds = raws.reduce((s, r) => s + r.nodeCpuSeconds, 0);
  const serverCpuSeconds = sumOptional(raws.map((r) => r.serverCpuSeconds));
  const machineBusySeconds = sumOptional(raws.map((r) => r.machineBusySeconds));
  const eluActive = raws.reduce((s, r) => s + r.eluActive, 0);
  const eluIdle = raws.reduce((s, r) => s + r.eluIdle, 0);
  const cores = os.cpus().length;
  const otherCpuSeconds =
    machineBusySeconds !== undefined && serverCpuSeconds !== undefined
      ? Math.max(0, machineBusySeconds - nodeCpuSeconds - serverCpuSeconds)
      : undefined;
  return {
    wallSeconds,
    nodeCpuSeconds,
    serverCpuSeconds,
    machineBusySeconds,
    otherCpuSeconds,
    cores,
    eventLoopUtilization: eluActive / Math.max(1e-9, eluActive + eluIdle),
    nodeCpuMsPerItem: (nodeCpuSeconds * 1000) / items,
    serverCpuMsPerItem: serverCpuSeconds === undefined ? undefined : (serverCpuSeconds * 1000) / items,
    otherLoad: otherCpuSeconds === undefined ? undefined : otherCpuSeconds / (wallSeconds * cores),
  };
}
