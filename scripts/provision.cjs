// What temporal-cli.cjs and temporal-server.cjs share: the project cache, finding executables,
// and building a Go program into the cache (`go install`, or a build with raised dependencies),
// printing progress. Plain CommonJS
// with no dependencies, like them, so that it runs before `npm ci`.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** ~/.cache/imt-ic/<name> (or under $XDG_CACHE_HOME). */
function cacheDir(name) {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'imt-ic', name);
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

const stderrLog = (line) => process.stderr.write(`${line}\n`);

/**
 * Runs `go <args>` in `cwd`; logs `[tag] still building…` every 15 s.
 * @returns {Promise<number>} the seconds it took
 */
function runGo({ go, args, cwd, env = {}, tag, log = stderrLog }) {
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  return new Promise((resolve, reject) => {
    const child = spawn(go, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let downloads = 0;
    child.stderr.on('data', (chunk) => {
      const text = chunk.toString();
      stderr += text;
      downloads += (text.match(/go: downloading/g) || []).length;
    });
    const timer = setInterval(() => {
      log(`[${tag}] still building… ${elapsed()} s elapsed, ${downloads} modules downloaded`);
    }, 15000);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve(elapsed());
      else reject(new Error(`go ${args.join(' ')} failed (exit ${code}):\n${stderr.slice(-2000)}`));
    });
  });
}

/** `go install <spec>` with GOBIN=bin. @returns {Promise<number>} the seconds it took */
function goInstall({ go, spec, bin, tag, log = stderrLog }) {
  return runGo({ go, args: ['install', spec], env: { GOBIN: bin }, tag, log });
}

/**
 * Builds `pkg` of `module@version` with some of its dependencies raised (`raise`: e.g.
 * `['modernc.org/sqlite@v1.44.3']`) into the file `out`. `go install` cannot raise a
 * dependency, so the module's source is fetched through the module proxy, copied, its
 * go.mod raised with `go get`, and built.
 * @returns {Promise<number>} the seconds it took
 */
async function goBuildRaised({ go, module: mod, version, pkg, raise, out, tag, log = stderrLog }) {
  const started = Date.now();
  const download = spawnSync(go, ['mod', 'download', '-json', `${mod}@${version}`], { encoding: 'utf8' });
  if (download.status !== 0) throw new Error(`go mod download ${mod}@${version} failed:\n${download.stderr}`);
  const dir = JSON.parse(download.stdout).Dir;
  const src = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-src-`));
  try {
    fs.cpSync(dir, src, { recursive: true });
    // The module cache is read-only; only go.mod and go.sum change.
    for (const f of ['go.mod', 'go.sum']) fs.chmodSync(path.join(src, f), 0o644);
    await runGo({ go, args: ['get', ...raise], cwd: src, env: { GOFLAGS: '-mod=mod' }, tag, log });
    await runGo({ go, args: ['build', '-o', out, pkg], cwd: src, tag, log });
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
  return Math.round((Date.now() - started) / 1000);
}

module.exports = { cacheDir, isExecutable, onPath, goInstall, goBuildRaised, stderrLog };
