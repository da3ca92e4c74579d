/**
 * The series selectors of a PromQL expression (`metric{labels}`), so a test can ask a real
 * Prometheus whether each one finds series. An alert's full expression is empty while all
 * is well; its selectors must not be — a typo in a metric or label name would otherwise
 * leave an alert that can never fire.
 *
 * A small scanner, enough for the expressions of deploy/: it drops strings, grouping
 * clauses (`by (…)`, `on (…)`, …), range and offset durations, and function names (a name
 * followed by `(`), and keeps what remains with its `{…}` matcher.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

export function selectorsOf(expr: string): string[] {
  const found = new Set<string>();
  const cleaned = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const token =
    /([a-zA-Z_:][\w:]*)\s*(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?(\s*\()?|\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\}|"(?:[^"\\]|\\.)*"/g;
  for (const m of cleaned.matchAll(token)) {
    const [, name, matcher, call] = m;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name)) continue;
    found.add(`${name}${matcher ?? ''}`);
  }
  return [...found];
}
