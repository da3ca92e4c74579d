/**
 * The README's exit-code table is the CLI's contract with scripts: each row's example is run
 * here, in-process (client/cli/main.ts), against a real worker and dev server, and must exit
 * with that row's code. A row added to the table is checked without touching this file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../client/cli/main';
import { startExport } from '../../client/exports';
import { startHarness, type Harness } from '../helpers/harness';
import { testPayloadKeys } from '../helpers/payload-keys';

// A cycle no other test file exports: export IDs are per namespace, shared by the test run.
const CYCLE = '2020-04-01';

interface Row {
  code: number;
  example: string;
}

/** The rows of the table under the CLI section whose first column is "Exit code". */
function exitCodeTable(): Row[] {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const lines = readme.split('\n');
  const header = lines.findIndex((l) => /^\|\s*Exit code\s*\|/.test(l));
  if (header < 0) throw new Error('README.md has no table starting with "| Exit code |"');
  const rows: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    const example = /`imt-ic ([^`]+)`/.exec(cells[3] ?? '');
    if (!example) throw new Error(`exit-code row without an \`imt-ic …\` example: ${line}`);
    rows.push({ code: Number(cells[1]), example: example[1] });
  }
  return rows;
}

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    name: 'cli-exit',
    withIc: true,
    cycles: [{ seed: 5, invoiceMonth: CYCLE, count: 3 }],
  });
  // The state the table's examples describe: that cycle was exported.
  await startExport(h.client, h.taskQueue, { cycle: CYCLE, wait: true });
});
afterAll(async () => {
  await h?.stop();
});

describe("the README's exit-code table", () => {
  const rows = exitCodeTable();

  it('lists every code the CLI uses, once', () => {
    expect(rows.map((r) => r.code)).toEqual([0, 1, 2, 3, 4]);
  });

  it.each(rows)('exit $code: imt-ic $example', async ({ code, example }) => {
    let err = '';
    const exit = await runCli(['node', 'imt-ic', ...example.split(/\s+/)], {
      out: () => undefined,
      err: (s) => void (err += s),
      isTTY: false,
      env: {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        PAYLOAD_KEYS: testPayloadKeys(),
        TEMPORAL_TASK_QUEUE: h.taskQueue,
        DATA_DIR: h.dataDir,
      },
    });
    expect({ exit, err: exit === code ? '' : err }).toEqual({ exit: code, err: '' });
  });
});
