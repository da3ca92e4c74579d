/** Runs an operator CLI command group in-process (commander with exits turned into results). */
import { Command, CommanderError } from 'commander';

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
