/**
 * Terminal output of the operator CLI: aligned tables, key/value blocks, times and a
 * progress bar. Plain text (no colours) so that output pasted into a ticket or a chat
 * reads the same as on screen; `--json` is there for anything a script consumes.
 */
import type { Command } from 'commander';

/** Where the CLI writes; tests pass buffers, the launcher passes the process streams. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars are drawn only on an interactive stderr. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  };
}

/**
 * The output of the program a command belongs to: the writers configured on it (runCli points
 * them at its CliIo; a test's own program at its buffers). For commands registered without a CliIo.
 */
export function commandIo(cmd: Command, env: NodeJS.ProcessEnv = process.env): CliIo {
  let root = cmd;
  while (root.parent) root = root.parent;
  const config = root.configureOutput();
  return {
    out: (text) => (config.writeOut ? config.writeOut(text) : void process.stdout.write(text)),
    err: (text) => (config.writeErr ? config.writeErr(text) : void process.stderr.write(text)),
    isTTY: Boolean(process.stderr.isTTY),
    env,
  };
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  /** Longer values are cut with an ellipsis (keeps one row on one line). */
  maxWidth?: number;
  align?: 'left' | 'right';
}

function cut(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  return `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** An aligned table with a header row; an empty list yields only the header. */
export function renderTable<Row>(columns: Column<Row>[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((c) => cut(c.value(row).replace(/\s+/g, ' '), c.maxWidth)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** `Label:   value` lines, labels padded to one width; undefined values are left out. */
export function renderFields(fields: [string, string | undefined][], indent = '  '): string {
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const width = Math.max(0, ...present.map(([label]) => label.length + 1));
  return present
    .map(([label, value]) => {
      const [first, ...rest] = value.split('\n');
      const pad = ' '.repeat(width + 2);
      return [
        `${indent}${`${label}:`.padEnd(width)}  ${first}`,
        ...rest.map((l) => `${indent}${pad}${l}`),
      ].join('\n');
    })
    .join('\n')
    .concat(present.length ? '\n' : '');
}

const two = (n: number) => String(n).padStart(2, '0');

/**
 * Local time with its UTC offset, `2026-11-25 14:05:09 -06:00`: what an operator compares
 * with a wall clock, and still unambiguous next to the UTC times of logs, the Temporal UI
 * and `--json` output.
 */
export function formatTime(date: Date | string | undefined): string {
  if (date === undefined) return '';
  const d = typeof date === 'string' ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) return String(date);
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}

/** `3m ago`, `2h ago`, `5d ago`. */
export function formatAge(date: Date | undefined, now = Date.now()): string {
  if (!date) return '';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * `label [██████░░░░░░] 12/40` redrawn in place on an interactive stderr; on a pipe or in
 * CI it stays silent (a log full of carriage returns helps no one) except for `done()`.
 */
export class ProgressBar {
  private current = 0;
  private lastDraw = 0;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private total: number,
    private readonly width = 28,
  ) {}

  setTotal(total: number): void {
    this.total = total;
    this.draw(true);
  }

  tick(by = 1): void {
    this.current += by;
    this.draw(false);
  }

  /** Clears the bar and prints a one-line summary. */
  done(summary?: string): void {
    if (this.io.isTTY) this.io.err('\r\x1b[2K');
    if (summary) this.io.err(`${summary}\n`);
  }

  render(): string {
    const total = Math.max(this.total, this.current, 1);
    const filled = Math.round((this.current / total) * this.width);
    const bar = '█'.repeat(filled) + '░'.repeat(this.width - filled);
    return `${this.label} [${bar}] ${this.current}/${this.total}`;
  }

  private draw(force: boolean): void {
    if (!this.io.isTTY) return;
    // At most ~20 redraws a second: drawing is slower than the work for small items.
    const now = Date.now();
    if (!force && now - this.lastDraw < 50 && this.current < this.total) return;
    this.lastDraw = now;
    this.io.err(`\r\x1b[2K${this.render()}`);
  }
}

/**
 * One line of progress on stderr that the caller composes (e.g. an export's pages and
 * invoices): redrawn in place on an interactive stderr; on a pipe or in CI, printed as a new
 * line only when it changed, so a log shows each step once.
 */
export class StatusLine {
  private last = '';

  constructor(private readonly io: CliIo) {}

  show(line: string): void {
    if (this.io.isTTY) this.io.err(`\r\x1b[2K${line}`);
    else if (line !== this.last) this.io.err(`${line}\n`);
    this.last = line;
  }

  /** Clears the line on a terminal (nothing to clear elsewhere). */
  clear(): void {
    if (this.io.isTTY && this.last) this.io.err('\r\x1b[2K');
  }
}
