/**
 * The operator commands of `imt-ic` (payments, exports, schedules, balances,
 * reconciliation); app/main.ts adds the service's own processes to the same program.
 *
 * Exit codes: 0 success; 1 the command failed (one-line reason on stderr); 2 the command
 * line is wrong (unknown command or option, missing or invalid argument). The export and
 * schedule commands (client/cli/export-commands.ts) add 3 (not found) and 4 (refused).
 * Credentials are read from the environment / the embedded credentials file and only
 * ever put in request headers: no output path prints them.
 */
import { Command, CommanderError } from 'commander';
import { CliError, createContextProvider, type GetContext } from './context';
import { processIo, type CliIo } from './format';
import { registerPaymentCommands } from './payments';
import { registerExportCommands, registerScheduleCommands } from './export-commands';
import { registerBalanceCommands } from './balance-commands';
import { registerReconcileCommands } from './reconcile-commands';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Adds commands to the program before it parses (app/main.ts adds the service's processes). */
export type ProgramExtension = (program: Command) => void;

function buildProgram(
  io: CliIo,
  provider: ReturnType<typeof createContextProvider>,
  extend?: ProgramExtension,
): Command {
  const program = new Command('imt-ic');
  program
    .description('Operate the IMT ⇄ Invoice Cloud integration: payments, exports and schedules on Temporal.')
    .option('--address <host:port>', 'Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <namespace>', 'Temporal namespace (default $TEMPORAL_NAMESPACE or default)')
    .option('--task-queue <name>', "the service's task queue (default $TEMPORAL_TASK_QUEUE or imt-ic)")
    .option(
      '--ui-url <url>',
      'Temporal UI base URL for links (default $TEMPORAL_UI_URL or http://127.0.0.1:8233)',
    )
    .showHelpAfterError('(add --help for usage)')
    // Commander would call process.exit itself; we map its outcomes to our exit codes instead.
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .addHelpText(
      'after',
      `
Configuration comes from the same environment as the service (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL, INGRESS_PORT,
INGRESS_INTEGRATOR_ID, DATA_DIR).
Exit codes: 0 ok, 1 failed, 2 usage error; export/schedule commands also 3 not found, 4 refused.`,
    );

  registerPaymentCommands(program, io, provider);
  const getContext: GetContext = provider.get;
  registerExportCommands(program, getContext);
  registerScheduleCommands(program, getContext);
  registerBalanceCommands(program, getContext);
  registerReconcileCommands(program, io, provider);
  extend?.(program);
  return program;
}

/** Runs one command line (`argv` as in process.argv) and returns the exit code. */
export async function runCli(
  argv: string[],
  io: CliIo = processIo(),
  extend?: ProgramExtension,
): Promise<number> {
  // Global options are known only after parsing, hence the late-bound getter.
  const provider = createContextProvider(() => program.opts(), io.env);
  const program = buildProgram(io, provider, extend);
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed by commander. --help / --version end this way too, with exit code 0.
      if (err.exitCode === 0) return EXIT_OK;
      // commander's own parse errors (`commander.unknownOption`, …) are usage errors; commands
      // that end through `cmd.error(…, { exitCode })` (the export commands) keep their code.
      return err.code.startsWith('commander.') ? EXIT_USAGE : err.exitCode;
    }
    if (err instanceof CliError) {
      io.err(`imt-ic: ${err.message}\n`);
      return err.exitCode;
    }
    // Unexpected (e.g. a gRPC error): one line, no stack trace.
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    io.err(`imt-ic: ${message}\n`);
    return EXIT_FAILURE;
  } finally {
    await provider.close().catch(() => undefined);
  }
}
