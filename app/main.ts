/**
 * `imt-ic <command>` — the one program (`npx imt-ic --help`; the npm scripts are aliases).
 *
 * The service's processes, each wired here in app/ (config → clients → activities →
 * worker / ingress), configured by the environment (contracts A):
 *   start [--cluster]   the embedded stack: worker + ingress (+ local Temporal and simulators)
 *   worker              a worker process on its own
 *   ingress             the HTTP ingress on its own
 *   codec-server        the payload codec server for the Temporal UI
 *   setup-namespace     one-shot: namespace + search attributes on a cluster
 *   demo                a scripted day on the embedded stack
 * plus the operator commands of client/cli (payments, export, schedule, balances, reconcile).
 */
import type { Command } from 'commander';
import { ConfigError } from '../common/config';
import { runCli } from '../client/cli/main';
import { runCodecServer } from './codec-server-process';
import { runDemo } from './demo';
import { runIngress } from './ingress-process';
import { runSetupNamespace } from './setup-namespace';
import { runStart } from './start';
import { runWorker } from './worker-process';

/** A long-running process: its failure ends the program with one line and exit code 1. */
function processAction(what: string, run: () => Promise<void>) {
  return async () => {
    try {
      await run();
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\nSee .env.example and docs/contracts.md (section A).\n`);
      } else {
        process.stderr.write(`${what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      process.exit(1);
    }
  };
}

function addServiceCommands(program: Command): void {
  program.description(
    'Run and operate the IMT ⇄ Invoice Cloud integration: the service (start, worker, ingress) and its payments, exports and schedules on Temporal.',
  );
  const env = '\nConfigured by the environment (contracts A; see .env.example), not by the options above.';
  program
    .command('start')
    .description(
      'run the service: worker + ingress, with an embedded Temporal and simulators when none is configured',
    )
    .option('--cluster', 'run a local Temporal cluster on PostgreSQL instead of the dev server')
    .option('--tls', 'with --cluster: mTLS on its frontend, certificates made under DATA_DIR')
    .addHelpText('after', env)
    .action((opts: { cluster?: boolean; tls?: boolean }) => processAction('Start', () => runStart(opts))());
  const processes: [name: string, description: string, what: string, run: () => Promise<void>][] = [
    ['worker', 'run a worker process (several may poll one task queue)', 'Worker', runWorker],
    [
      'ingress',
      "run the HTTP ingress IC's Data Pump calls (stateless; run several behind a load balancer)",
      'Ingress',
      runIngress,
    ],
    [
      'codec-server',
      'run the codec server that lets the Temporal UI show encrypted payloads',
      'Codec server',
      runCodecServer,
    ],
    [
      'setup-namespace',
      'create the namespace and register the search attributes on a Temporal cluster',
      'Namespace setup',
      runSetupNamespace,
    ],
  ];
  for (const [name, description, what, run] of processes) {
    program.command(name).description(description).addHelpText('after', env).action(processAction(what, run));
  }
  program
    .command('demo')
    .description('a scripted day on the embedded stack (every flow, with Temporal UI links), then exit')
    .option('--keep-running', 'leave the stack up afterwards to explore (Ctrl-C to stop)')
    .action((opts: { keepRunning?: boolean }) =>
      processAction('Demo', async () => {
        await runDemo(opts);
        if (!opts.keepRunning) process.exit(0);
      })(),
    );
}

/** Runs one command line (`argv` as in process.argv) and returns the exit code. */
export function runProgram(argv: string[]): Promise<number> {
  return runCli(argv, undefined, addServiceCommands);
}

if (require.main === module) {
  void runProgram(process.argv).then((code) => {
    process.exitCode = code;
  });
}
