// Finds or builds the Temporal CLI (which embeds the dev server). Plain CommonJS with no
// dependencies so that it runs on a fresh clone before `npm ci`, and from TypeScript.
//
// Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the project cache
// (~/.cache/imt-ic/temporal-cli-v1.5.1/bin/temporal), else build it from the Go module
// proxy with `go install` (minutes) into that cache. The SDK's own download of the dev
// server is the fallback on machines with internet and without Go.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const CLI_VERSION = 'v1.5.1';

function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'imt-ic', `temporal-cli-${CLI_VERSION}`);
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

/** @returns {string | undefined} absolute path of a usable Temporal CLI */
function locateTemporalCli() {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    return path.resolve(explicit);
  }
  return (
    onPath('temporal') ||
    (isExecutable(path.join(cacheDir(), 'bin', 'temporal'))
      ? path.join(cacheDir(), 'bin', 'temporal')
      : undefined)
  );
}

/** Builds the CLI into the cache with `go install`, printing progress. */
function buildTemporalCli(log = (line) => process.stderr.write(`${line}\n`)) {
  const go = onPath('go');
  if (!go) return Promise.resolve(undefined);
  const bin = path.join(cacheDir(), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  log(
    `[temporal-cli] building ${CLI_MODULE}@${CLI_VERSION} with go install into ${bin} (takes a few minutes the first time)…`,
  );
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['install', `${CLI_MODULE}@${CLI_VERSION}`], {
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
      const secs = Math.round((Date.now() - started) / 1000);
      log(`[temporal-cli] still building… ${secs} s elapsed, ${downloads} modules downloaded`);
    }, 15000);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      const secs = Math.round((Date.now() - started) / 1000);
      const target = path.join(bin, 'temporal');
      if (code === 0 && isExecutable(target)) {
        log(`[temporal-cli] built in ${secs} s: ${target}`);
        resolve(target);
      } else {
        reject(
          new Error(`go install ${CLI_MODULE}@${CLI_VERSION} failed (exit ${code}):\n${stderr.slice(-2000)}`),
        );
      }
    });
  });
}

async function ensureTemporalCli(log) {
  const found = locateTemporalCli();
  if (found) return found;
  return buildTemporalCli(log);
}

function cliVersion(file) {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8' });
  return (r.stdout || '').trim();
}

module.exports = { locateTemporalCli, buildTemporalCli, ensureTemporalCli, cliVersion, CLI_VERSION };
