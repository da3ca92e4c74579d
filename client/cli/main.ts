/**
 * The operator commands of `imt-ic` (payments, exports, schedules, balances, adjustments,
 * reconciliation); app/main.ts adds the service's own processes to the same program.
 *
 * Exit codes (EXIT in client/cli/context.ts): 0 success; 1 the command failed (one-line
 * reason on stderr); 2 the command line is wrong (unknown command or option, missing or
 * invalid argument); 3 not found; 4 refused in the current state.
 * Credentials are read from the environment / the embedded credentials file and only
 * ever put in request headers: no output path prints them.
 */
import { Command, CommanderError } from 'commander';
import { CONFIG_DEFAULTS, embeddedTemporalAddress } from '../../common/config';
import { EXIT, createContextProvider, describeFailure, type GetContext } from './context';
import { processIo, type CliIo } from './format';
import { registerPaymentCommands } from './payments';
import { registerExportCommands } from './export-commands';
import { registerScheduleCommands } from './schedule-commands';
import { registerBalanceCommands } from './balance-commands';
import { registerAdjustmentCommands } from './adjustment-commands';
import { registerReconcileCommands } from './reconcile-commands';
import { registerPatchCommands } from './patch-commands';

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
    .option(
      '--address <host:port>',
      `Temporal frontend (default $TEMPORAL_ADDRESS, else 127.0.0.1:$TEMPORAL_PORT: ${embeddedTemporalAddress(CONFIG_DEFAULTS.temporalPort)} when unset)`,
    )
    .option(
      '--namespace <namespace>',
      `Temporal namespace (default $TEMPORAL_NAMESPACE or ${CONFIG_DEFAULTS.temporalNamespace})`,
    )
    .option(
      '--task-queue <name>',
      `the service's task queue (default $TEMPORAL_TASK_QUEUE or ${CONFIG_DEFAULTS.temporalTaskQueue})`,
    )
    .option(
      '--ui-url <url>',
      `Temporal UI base URL for links (default $TEMPORAL_UI_URL or http://${embeddedTemporalAddress(CONFIG_DEFAULTS.temporalUiPort)})`,
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
Exit codes: 0 ok, 1 failed, 2 usage error, 3 not found, 4 refused in the current state.`,
    );

  registerPaymentCommands(program, io, provider);
  const getContext: GetContext = provider.get;
  registerExportCommands(program, getContext);
  registerScheduleCommands(program, getContext);
  registerBalanceCommands(program, getContext);
  registerAdjustmentCommands(program, getContext);
  registerReconcileCommands(program, io, provider);
  registerPatchCommands(program, getContext);
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
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed. --help / --version end this way too, with exit code 0.
      if (err.exitCode === 0) return EXIT.ok;
      // commander's own parse errors (`commander.unknownOption`, …) are usage errors; commands
      // end through `commandAction` (client/cli/context.ts) and keep their code.
      return err.code.startsWith('commander.') ? EXIT.usage : err.exitCode;
    }
    // Outside any command's action: the same one line, no stack trace.
    const { message, exitCode } = describeFailure(err);
    io.err(`imt-ic: ${message}\n`);
    return exitCode;
  } finally {
    await provider.close().catch(() => undefined);
  }
}
