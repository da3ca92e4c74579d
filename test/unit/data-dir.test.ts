/** DATA_DIR hygiene (common/data-dir.ts): private folders 0700 / files 0600, export files pruned. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pruneExportFiles, securePrivateDirs } from '../../common/data-dir';

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
const DAY = 24 * 60 * 60 * 1000;

function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'data-dir-'));
}

describe('DATA_DIR', () => {
  it('creates the private folders 0700 and tightens files an older version left readable', () => {
    const dataDir = tempDataDir();
    const runDir = path.join(dataDir, 'exports', '2022-09-01', 'runs', 'r1');
    fs.mkdirSync(runDir, { recursive: true, mode: 0o755 });
    const file = path.join(runDir, 'invoices.txt');
    fs.writeFileSync(file, 'names and addresses', { mode: 0o644 });
    fs.writeFileSync(path.join(dataDir, 'payload-keys'), 'k', { mode: 0o644 });
    securePrivateDirs(dataDir);
    for (const name of ['exports', 'adjustments', 'balances', 'reconciliations'])
      expect(modeOf(path.join(dataDir, name))).toBe(0o700);
    expect(modeOf(runDir)).toBe(0o700);
    expect(modeOf(file)).toBe(0o600);
    expect(modeOf(path.join(dataDir, 'payload-keys'))).toBe(0o600);
  });

  it('deletes export files older than the retention, and the folders they leave empty', () => {
    const dataDir = tempDataDir();
    const now = Date.now();
    const oldRun = path.join(dataDir, 'exports', '2022-08-01', 'runs', 'old');
    const newRun = path.join(dataDir, 'exports', '2022-09-01', 'runs', 'new');
    fs.mkdirSync(oldRun, { recursive: true });
    fs.mkdirSync(newRun, { recursive: true });
    const oldFile = path.join(oldRun, 'invoices.txt');
    const newFile = path.join(newRun, 'invoices.txt');
    fs.writeFileSync(oldFile, 'old');
    fs.writeFileSync(newFile, 'new');
    const oldAdjustment = path.join(dataDir, 'adjustments', 'INV1-1.txt');
    fs.mkdirSync(path.dirname(oldAdjustment), { recursive: true });
    fs.writeFileSync(oldAdjustment, 'old');
    const aged = new Date(now - 31 * DAY);
    fs.utimesSync(oldFile, aged, aged);
    fs.utimesSync(oldAdjustment, aged, aged);

    expect(pruneExportFiles(dataDir, 0, now)).toBe(0);
    expect(fs.existsSync(oldFile)).toBe(true);
    expect(pruneExportFiles(dataDir, 30, now)).toBe(2);
    expect(fs.existsSync(oldFile)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'exports', '2022-08-01'))).toBe(false);
    expect(fs.existsSync(oldAdjustment)).toBe(false);
    expect(fs.readFileSync(newFile, 'utf8')).toBe('new');
    expect(fs.existsSync(path.join(dataDir, 'exports'))).toBe(true);
  });
});
