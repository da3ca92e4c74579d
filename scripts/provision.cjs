// What temporal-cli.cjs and temporal-server.cjs share: the project cache, finding executables,
// and building a Go program into the cache with `go install`, printing progress. Plain CommonJS
// with no dependencies, like them, so that it runs before `npm ci`.
'use strict';
const { spawn } = require('node:child_process');
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
 * `go install <spec>` with GOBIN=bin; logs `[tag] still building…` every 15 s.
 * @returns {Promise<number>} the seconds it took
 */
function goInstall({ go, spec, bin, tag, log = stderrLog }) {
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['install', spec], {
      env: { ...process.env, GOBIN: bin },
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
      else reject(new Error(`go install ${spec} failed (exit ${code}):\n${stderr.slice(-2000)}`));
    });
  });
}

module.exports = { cacheDir, isExecutable, onPath, goInstall, stderrLog };
