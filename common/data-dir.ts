/**
 * DATA_DIR holds personal data (invoice files: names, addresses, e-mails; reconciliation and
 * balance reports) and the local secrets. Its folders of such files are readable by the
 * service's user only (0700, files 0600), and export files are deleted once older than
 * EXPORT_FILE_RETENTION_DAYS. DATA_DIR itself keeps its mode: `npm run cluster` run as root
 * hands a folder under it to the PostgreSQL user, which must be able to reach it.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** The folders under DATA_DIR that hold personal data (activities/*). */
export const PRIVATE_DIRS = ['exports', 'adjustments', 'balances', 'reconciliations'] as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Creates the private folders 0700 and tightens what an older version left readable. */
export function securePrivateDirs(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  for (const name of PRIVATE_DIRS) {
    const dir = path.join(dataDir, name);
    fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    tighten(dir);
  }
  for (const secret of ['payload-keys', 'embedded-credentials.json']) {
    const file = path.join(dataDir, secret);
    if (fs.existsSync(file)) fs.chmodSync(file, PRIVATE_FILE_MODE);
  }
}

function tighten(dir: string): void {
  fs.chmodSync(dir, PRIVATE_DIR_MODE);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) tighten(full);
    else if (entry.isFile()) fs.chmodSync(full, PRIVATE_FILE_MODE);
  }
}

/**
 * Deletes export files (DATA_DIR/exports and DATA_DIR/adjustments) last written more than
 * `days` days before `now`, then the folders left empty. 0 days = keep everything. Returns
 * how many files went. A run's files are rewritten while it works, so only finished ones age.
 */
export function pruneExportFiles(dataDir: string, days: number, now = Date.now()): number {
  if (days <= 0) return 0;
  const cutoff = now - days * DAY_MS;
  let removed = 0;
  const prune = (dir: string, isRoot: boolean): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) prune(full, false);
      else if (entry.isFile() && fs.statSync(full).mtimeMs < cutoff) {
        fs.rmSync(full, { force: true });
        removed += 1;
      }
    }
    if (!isRoot && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  };
  for (const name of ['exports', 'adjustments']) prune(path.join(dataDir, name), true);
  return removed;
}

/** Prunes now and then once a day (the timer does not keep the process alive). */
export function schedulePruning(
  dataDir: string,
  days: number,
  log: (removed: number) => void,
): { stop(): void } {
  const run = () => {
    const removed = pruneExportFiles(dataDir, days);
    if (removed > 0) log(removed);
  };
  run();
  const timer = setInterval(run, DAY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
