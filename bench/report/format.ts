/** Number and table formatting for the bench report. */

export function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n.toFixed(digits);
}

export function ms(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n)} ms`;
}

export function pct(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n * 100)}%`;
}

export const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** A Markdown table, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
