/**
 * app/main.ts parses a command line that starts with a service process (`imt-ic worker --pool
 * payments`) without the operator commands, so their modules never load into a worker.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addServiceCommands, SERVICE_PROCESS_COMMANDS } from '../../app/main';

const ROOT = path.resolve(__dirname, '..', '..');

/** Runs a command line through app/main.ts (tsx) and lists the client/cli modules it loaded. */
function loadedCliModules(...args: string[]): { status: number | null; modules: string[]; out: string } {
  const script = `
    const { runProgram } = require('./app/main.ts');
    runProgram(['node', 'imt-ic', ...${JSON.stringify(args)}]).then((code) => {
      const loaded = Object.keys(require.cache).filter((f) => f.includes('/client/cli/'));
      process.stderr.write('\\nLOADED ' + JSON.stringify(loaded.map((f) => require('path').basename(f))) + '\\n');
      process.exitCode = code;
    });`;
  const res = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = /LOADED (.*)/.exec(res.stderr)?.[1];
  return { status: res.status, modules: line ? (JSON.parse(line) as string[]) : [], out: res.stdout };
}

describe('the service program', () => {
  it('lists exactly the commands addServiceCommands registers', () => {
    const program = new Command();
    addServiceCommands(program);
    expect(program.commands.map((c) => c.name()).sort()).toEqual([...SERVICE_PROCESS_COMMANDS].sort());
  });

  it('parses a worker command line without loading the operator commands', () => {
    const worker = loadedCliModules('worker', '--pool', 'payments', '--help');
    expect(worker.status).toBe(0);
    expect(worker.out).toContain('Usage: imt-ic worker [options]');
    expect(worker.modules).not.toContain('export-commands.ts');
    expect(worker.modules).not.toContain('payments.ts');
    // A wrong pool is still a usage error (exit code 2).
    expect(loadedCliModules('worker', '--pool', 'nope').status).toBe(2);
    // The whole program (operator commands included) otherwise.
    const help = loadedCliModules('--help');
    expect(help.status).toBe(0);
    expect(help.out).toContain('worker [options]');
    expect(help.out).toContain('payments');
    expect(help.modules).toContain('export-commands.ts');
  });
});
