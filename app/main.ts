/**
 * `imt-ic <command>` — the one program (`npx imt-ic --help`; the npm scripts are aliases).
 *
 * The service's processes, each wired here in app/ (config → clients → activities →
 * worker / ingress), configured by the environment (contracts A):
 *   start [--cluster]   the embedded stack: worker + ingress (+ local Temporal and simulators)
 *   worker [--pool P]   a worker process on its own: the payments pool, the bulk pool, or both
 *   worker-health       a worker container's health check (does this host's worker poll its pool?)
 *   ingress             the HTTP ingress on its own
 *   codec-server        the payload codec server for the Temporal UI
 *   setup-namespace     one-shot: namespace + search attributes on a cluster
 *   demo                a scripted day on the embedded stack
 * plus the operator commands of client/cli (payments, export, schedule, balances, reconcile).
 */
import { Command, CommanderError, Option } from 'commander';
import { WORKER_POOLS, type WorkerPool } from '../domain';
import { ConfigError } from '../common/config';
import { EXIT } from '../client/cli/context';

/*
 * Each process's module is loaded only when its command runs: a payments worker then does not
 * carry the embedded stack, the simulators, the ingress or the demo in its memory (~22 MB of
 * RSS; docs/decisions.md, "Two worker pools"). `require`, not `import()`: under tsx's CommonJS
 * hook (tests, chaos) a dynamic import would bypass the hook.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = <T>(module: string): T => require(module) as T;
const runStart = async (opts: { cluster?: boolean; tls?: boolean }) =>
  load<typeof import('./start')>('./start').runStart(opts);
const runWorker = async (opts: { pools: readonly WorkerPool[] }) =>
  load<typeof import('./worker-process')>('./worker-process').runWorker(opts);
const runWorkerHealth = async (pool: WorkerPool) =>
  load<typeof import('./worker-health')>('./worker-health').runWorkerHealth(pool);
const runIngress = async () => load<typeof import('./ingress-process')>('./ingress-process').runIngress();
const runCodecServer = async () =>
  load<typeof import('./codec-server-process')>('./codec-server-process').runCodecServer();
const runSetupNamespace = async () =>
  load<typeof import('./setup-namespace')>('./setup-namespace').runSetupNamespace();
const runDemo = async (opts: { keepRunning?: boolean }) =>
  load<typeof import('./demo')>('./demo').runDemo(opts);
const runCli = (...args: Parameters<typeof import('../client/cli/main').runCli>) =>
  load<typeof import('../client/cli/main')>('../client/cli/main').runCli(...args);

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

export function addServiceCommands(program: Command): void {
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
  program
    .command('worker')
    .description("run a worker process (several may poll each pool's task queue)")
    .addOption(
      new Option(
        '--pool <pool>',
        'serve one pool only: payments (transaction runs, IMT postings) or bulk (exports, reconciliation, balances, adjustments, alerts); default both',
      ).choices(WORKER_POOLS),
    )
    .addHelpText('after', env)
    .action((opts: { pool?: WorkerPool }) =>
      processAction('Worker', () => runWorker({ pools: opts.pool ? [opts.pool] : WORKER_POOLS }))(),
    );
  program
    .command('worker-health')
    .description("exit 0 when this host's worker polls the pool's task queue (container health check)")
    .addOption(new Option('--pool <pool>', 'the pool to check').choices(WORKER_POOLS).makeOptionMandatory())
    .addHelpText('after', env)
    .action((opts: { pool: WorkerPool }) =>
      processAction('Worker health check', async () => {
        process.exit((await runWorkerHealth(opts.pool)) ? 0 : 1);
      })(),
    );
  const processes: [name: string, description: string, what: string, run: () => Promise<void>][] = [
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

/** The commands that run one of the service's processes (addServiceCommands). */
export const SERVICE_PROCESS_COMMANDS = [
  'start',
  'worker',
  'worker-health',
  'ingress',
  'codec-server',
  'setup-namespace',
  'demo',
] as const;

/** The operator CLI's global options (client/cli/main.ts): a command line naming one gets the whole program. */
const GLOBAL_OPTIONS = ['--address', '--namespace', '--task-queue', '--ui-url'];

/** A program of the service's process commands alone, with the operator CLI's exit codes. */
async function runServiceProgram(argv: string[]): Promise<number> {
  const program = new Command('imt-ic').exitOverride();
  addServiceCommands(program);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Already printed; --help ends this way with exit code 0, a parse error is a usage error.
    if (err.exitCode === 0) return EXIT.ok;
    return err.code.startsWith('commander.') ? EXIT.usage : err.exitCode;
  }
}

/**
 * Runs one command line (`argv` as in process.argv) and returns the exit code. A command line
 * that starts with a service process (`imt-ic worker --pool payments`, as the image and compose
 * run it) and names no global option is parsed by the service's commands alone: the operator
 * commands' modules (client/cli: exports, reconciliation, payment entry and their libraries)
 * then never load into a worker's memory (docs/decisions.md, "Payments pool memory").
 * Anything else — `--help`, global options, an operator command — gets the whole program.
 */
export function runProgram(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  const serviceProcess =
    (SERVICE_PROCESS_COMMANDS as readonly string[]).includes(args[0] ?? '') &&
    !args.some((a) => GLOBAL_OPTIONS.includes(a.split('=')[0]!));
  return serviceProcess ? runServiceProgram(argv) : runCli(argv, undefined, addServiceCommands);
}

if (require.main === module) {
  void runProgram(process.argv).then((code) => {
    process.exitCode = code;
  });
}
