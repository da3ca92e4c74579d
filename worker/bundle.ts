/**
 * The workflow bundle, built ahead of time so a worker starts without webpack work:
 * - `node lib/worker/bundle.js <out.js>` writes it (the container image ships one; workers load
 *   it through WORKFLOW_BUNDLE_PATH);
 * - `prebuiltWorkflowBundle()` is what a worker started without that setting uses (`npm start`,
 *   `npm run worker`, the bench): a cache file named after a hash of every source file the
 *   bundle could include, built on first use in a child process, so the worker's own heap never
 *   holds webpack's working set. Staleness: any change to a source file (or the SDK version)
 *   changes the hash, hence the file name; a stale bundle is never loaded, and older files are
 *   removed when a new one is written.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../common/data-protection';

/** The workflow bundle entry, from sources (tsx, tests) or from the compiled build. */
export const WORKFLOWS_PATH = ['index.ts', 'index.js']
  .map((f) => path.join(__dirname, '..', 'workflows', f))
  .find((f) => fs.existsSync(f)) as string;

/** The project root the bundle's sources live under (the repository, or lib/ when compiled). */
const SOURCE_ROOT = path.resolve(__dirname, '..');
/** Folders that never reach a workflow bundle. */
const NOT_BUNDLED = new Set(['node_modules', 'test', 'bench', 'docs', 'deploy', 'scripts', 'lib']);

/**
 * The bundle's inline source map keeps its mappings (stack traces still name our files and
 * lines) but not the sources' text: 1.1 instead of 2.1 MB, parsed in both of the worker's
 * threads — measured 12 MB less RSS idle, 8–11 MB less at an export's peak. The SDK needs an
 * inline source map, so none at all is not an option.
 */
const BUNDLE_OPTIONS: Parameters<typeof bundleWorkflowCode>[0] = {
  workflowsPath: WORKFLOWS_PATH,
  // Workflow failures' messages and stacks are encrypted too (common/failure-converter.ts).
  failureConverterPath: FAILURE_CONVERTER_PATH,
  webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
};

/**
 * The bundle with every non-ASCII character written as a `\u` escape. A few dozen of them (—, →,
 * … in the workflows' messages and comments) made V8 hold the whole source as a two-byte string:
 * 2.2 instead of 1.1 MB, in the main thread (the SDK keeps the code) and in the workflow thread —
 * measured 2–3 MB less RSS idle (docs/decisions.md, "Payments pool memory"). Equivalent as
 * JavaScript: the escapes stand in comments, string and untagged template literals, where they
 * mean the same character (no `String.raw` or other tag reads them raw).
 */
export function asciiOnly(code: string): string {
  return code.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function buildBundleCode(): Promise<string> {
  return asciiOnly((await bundleWorkflowCode(BUNDLE_OPTIONS)).code);
}

async function writeBundle(out: string): Promise<number> {
  const code = await buildBundleCode();
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  // Rename: a concurrent reader sees either no file or the whole bundle.
  fs.renameSync(tmp, out);
  return code.length;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || NOT_BUNDLED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Hash of the SDK version and every source file under the root (sorted, with their paths). */
export function sourceHash(root = SOURCE_ROOT): string {
  const hash = createHash('sha256');
  // The SDK's version: its package.json, found the way Node resolves the package.
  hash.update(
    fs.readFileSync(path.join(path.dirname(require.resolve('@temporalio/worker')), '..', 'package.json')),
  );
  for (const file of sourceFiles(root).sort()) {
    hash.update(`${path.relative(root, file)}\n`);
    hash.update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Builds in a child process (same Node, same loader flags); in-process when that cannot run. */
function buildInChild(out: string): boolean {
  const script = ['bundle.ts', 'bundle.js'].map((f) => path.join(__dirname, f)).find(fs.existsSync);
  if (!script) return false;
  const res = spawnSync(process.execPath, [...process.execArgv, script, out], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  return res.status === 0 && fs.existsSync(out);
}

export interface PrebuiltBundleOptions {
  /** Where bundles are cached (default `.cache/workflow-bundle` under the project). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/**
 * The cached bundle for the current sources, built first if missing: `{ codePath }` for
 * Worker.create. Where the cache cannot be written (a read-only install without
 * WORKFLOW_BUNDLE_PATH), the bundle is built in memory as before: `{ code }`.
 */
export async function prebuiltWorkflowBundle(
  opts: PrebuiltBundleOptions = {},
): Promise<{ codePath: string } | { code: string }> {
  const dir = opts.cacheDir ?? path.join(SOURCE_ROOT, '.cache', 'workflow-bundle');
  const name = `workflow-bundle-${sourceHash()}.js`;
  const codePath = path.join(dir, name);
  if (fs.existsSync(codePath)) return { codePath };
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    opts.log?.(`[bundle] ${dir} is not writable: bundling in memory`);
    return { code: await buildBundleCode() };
  }
  opts.log?.(`[bundle] building the workflow bundle into ${codePath}`);
  if (!buildInChild(codePath)) await writeBundle(codePath);
  for (const old of fs.readdirSync(dir))
    if (old.startsWith('workflow-bundle-') && old !== name && old.endsWith('.js'))
      fs.rmSync(path.join(dir, old), { force: true });
  return { codePath };
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? 'workflow-bundle.js');
  writeBundle(out).then(
    (bytes) => process.stdout.write(`workflow bundle: ${out} (${Math.round(bytes / 1024)} KiB)\n`),
    (err: unknown) => {
      process.stderr.write(`bundling failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
