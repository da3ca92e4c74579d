/**
 * The reconciliation's external sort (activities/sorted-spill.ts): records added in any
 * order come back in key order with equal keys in the order added, whether they fit one
 * run in memory or span many run files on disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SortedCursor, SortedSpill, type Keyed } from '../../activities/sorted-spill';

const dirs: string[] = [];
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sorted-spill-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function collect<T>(it: AsyncIterable<Keyed<T>>): Promise<Keyed<T>[]> {
  const out: Keyed<T>[] = [];
  for await (const item of it) out.push(item);
  return out;
}

/** What a stable in-memory sort by key gives. */
const expected = (items: Keyed<number>[]) =>
  items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => (a.item[0] < b.item[0] ? -1 : a.item[0] > b.item[0] ? 1 : a.i - b.i))
    .map(({ item }) => item);

describe('SortedSpill', () => {
  it('sorts a set that fits one run without writing a file', async () => {
    const dir = tmpDir();
    const spill = new SortedSpill<number>(dir, 's', 10);
    for (const [k, v] of [
      ['b', 1],
      ['a', 2],
      ['b', 3],
    ] as const)
      await spill.add(k, v);
    expect(await collect(spill.sorted())).toEqual([
      ['a', 2],
      ['b', 1],
      ['b', 3],
    ]);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('merges many runs on disk into key order, equal keys in the order added', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.stringMatching(/^[a-f0-9]{0,3}$/), fc.integer()), { maxLength: 300 }),
        fc.integer({ min: 1, max: 17 }),
        async (items, runSize) => {
          const dir = tmpDir();
          const spill = new SortedSpill<number>(dir, 's', runSize);
          for (const [k, v] of items) await spill.add(k, v);
          expect(spill.size).toBe(items.length);
          expect(await collect(spill.sorted())).toEqual(expected(items));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes a run file per full run (what keeps memory to one run)', async () => {
    const dir = tmpDir();
    const spill = new SortedSpill<number>(dir, 's', 100);
    for (let i = 0; i < 1050; i++) await spill.add(String((i * 7919) % 1050).padStart(4, '0'), i);
    expect(fs.readdirSync(dir)).toHaveLength(10);
    const keys = (await collect(spill.sorted())).map(([k]) => Number(k));
    expect(keys).toEqual(Array.from({ length: 1050 }, (_, i) => i));
  });

  it('loses no line of any run while the merge waits on the others (many runs of many lines)', async () => {
    const dir = tmpDir();
    const spill = new SortedSpill<number>(dir, 's', 5000);
    const n = 100_000;
    for (let i = 0; i < n; i++) await spill.add(String((i * 7919) % n).padStart(6, '0'), i);
    let count = 0;
    let previous = '';
    for await (const [key] of spill.sorted()) {
      expect(key > previous).toBe(true);
      previous = key;
      count++;
    }
    expect(count).toBe(n);
  });
});

describe('SortedCursor', () => {
  it('takes one key at a time and finds the records of a key, skipping smaller ones', async () => {
    const dir = tmpDir();
    const spill = new SortedSpill<number>(dir, 'c', 2);
    for (const [k, v] of [
      ['c', 1],
      ['a', 2],
      ['c', 3],
      ['e', 4],
      ['b', 5],
    ] as const)
      await spill.add(k, v);
    const cursor = new SortedCursor(spill.sorted());
    expect(await cursor.valuesOf('a')).toEqual([2]);
    expect(await cursor.valuesOf('bb')).toEqual([]);
    expect(await cursor.takeKey()).toEqual({ key: 'c', values: [1, 3] });
    expect(await cursor.valuesOf('d')).toEqual([]);
    expect(await cursor.peek()).toEqual(['e', 4]);
    expect(await cursor.takeKey()).toEqual({ key: 'e', values: [4] });
    expect(await cursor.takeKey()).toBeUndefined();
  });
});
