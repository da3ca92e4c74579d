/**
 * An external sort for records keyed by a string (a transaction ID): records are added in
 * any order, held a run at a time, each run sorted and written to a file as JSON lines, and
 * read back in key order by merging the runs. Memory is one run plus one line per run,
 * whatever the number of records — what lets a reconciliation compare a day of any size
 * (docs/decisions.md, "Reconciliation memory bounded by design").
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';

/** Records per sorted run: ~2–4 MB of small objects. */
export const SPILL_RUN_SIZE = 20_000;

export type Keyed<T> = [key: string, value: T];

const byKey = <T>(a: Keyed<T>, b: Keyed<T>) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export class SortedSpill<T> {
  private buffer: Keyed<T>[] = [];
  private readonly runs: string[] = [];
  private added = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly runSize = SPILL_RUN_SIZE,
  ) {}

  get size(): number {
    return this.added;
  }

  async add(key: string, value: T): Promise<void> {
    this.buffer.push([key, value]);
    this.added++;
    if (this.buffer.length >= this.runSize) await this.writeRun();
  }

  /**
   * Every record in key order; records with equal keys come out in the order they were
   * added. A set that fits one run never touches the disk.
   */
  async *sorted(): AsyncGenerator<Keyed<T>> {
    if (this.runs.length === 0) {
      const items = this.buffer.sort(byKey);
      this.buffer = [];
      yield* items;
      return;
    }
    await this.writeRun();
    yield* mergeRuns<T>(this.runs);
  }

  private async writeRun(): Promise<void> {
    if (this.buffer.length === 0) return;
    const items = this.buffer.sort(byKey); // stable: equal keys keep their order
    this.buffer = [];
    const file = path.join(this.dir, `${this.name}-${this.runs.length}.jsonl`);
    const out = fs.createWriteStream(file);
    for (let i = 0; i < items.length; i += 1000) {
      const chunk = items
        .slice(i, i + 1000)
        .map((item) => JSON.stringify(item))
        .join('\n');
      if (!out.write(`${chunk}\n`)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    this.runs.push(file);
  }
}

interface Head<T> {
  item: Keyed<T>;
  run: number;
  lines: AsyncIterator<string>;
}

/** Before: smaller key, then the earlier run (records added earlier). */
const before = <T>(a: Head<T>, b: Head<T>) =>
  a.item[0] < b.item[0] || (a.item[0] === b.item[0] && a.run < b.run);

/** A k-way merge of sorted run files through a binary heap of their current lines. */
async function* mergeRuns<T>(files: string[]): AsyncGenerator<Keyed<T>> {
  const heap: Head<T>[] = [];
  const push = (h: Head<T>) => {
    heap.push(h);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const siftDown = () => {
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  const readers = files.map((file) =>
    readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity }),
  );
  // Each iterator at once: readline emits lines as soon as its file is read, and an iterator
  // created later would miss the ones emitted before it.
  const iterators = readers.map((reader) => reader[Symbol.asyncIterator]());
  try {
    for (const [run, lines] of iterators.entries()) {
      const first = await lines.next();
      if (!first.done) push({ item: JSON.parse(first.value) as Keyed<T>, run, lines });
    }
    while (heap.length > 0) {
      const top = heap[0];
      yield top.item;
      const next = await top.lines.next();
      if (next.done) {
        const last = heap.pop() as Head<T>;
        if (heap.length > 0) heap[0] = last;
      } else top.item = JSON.parse(next.value) as Keyed<T>;
      siftDown();
    }
  } finally {
    for (const reader of readers) reader.close();
  }
}

/** One step of a sorted stream at a time, with a look at the next record. */
export class SortedCursor<T> {
  private head: IteratorResult<Keyed<T>> | undefined;

  constructor(private readonly source: AsyncIterator<Keyed<T>>) {}

  async peek(): Promise<Keyed<T> | undefined> {
    this.head ??= await this.source.next();
    return this.head.done ? undefined : this.head.value;
  }

  /** Every record of the next key in the stream (equal keys are adjacent), or undefined at the end. */
  async takeKey(): Promise<{ key: string; values: T[] } | undefined> {
    const first = await this.peek();
    if (!first) return undefined;
    const values: T[] = [];
    while ((await this.peek())?.[0] === first[0]) {
      values.push((this.head as IteratorYieldResult<Keyed<T>>).value[1]);
      this.head = undefined;
    }
    return { key: first[0], values };
  }

  /** The records of exactly `key`, skipping smaller keys; [] when the stream has none. */
  async valuesOf(key: string): Promise<T[]> {
    for (;;) {
      const next = await this.peek();
      if (!next || next[0] > key) return [];
      const group = await this.takeKey();
      if (group && group.key === key) return group.values;
    }
  }
}
