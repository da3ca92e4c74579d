/** Runs an operator CLI command group in-process (commander with exits turned into results). */
import { Command, CommanderError } from 'commander';
import type { GetContext } from '../../client/cli/context';
import type { Harness } from './harness';

export interface CliRun {
  out: string;
  err: string;
  exitCode: number;
}

/** `register` adds the command group to the program; returns what the command wrote and its exit code. */
export async function runCli(register: (program: Command) => void, args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const program = new Command('imt-ic')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  register(program);
  try {
    await program.parseAsync(['node', 'imt-ic', ...args]);
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, exitCode: e.exitCode };
    throw e;
  }
}

/** The operator CLI's connection, pointed at the harness's client, namespace and task queue. */
export function harnessContext(h: Harness, temporalUiUrl?: string): GetContext {
  return async () => ({
    client: h.client,
    taskQueue: h.taskQueue,
    namespace: h.namespace,
    ...(temporalUiUrl ? { temporalUiUrl } : {}),
  });
}
