// The layering rule of docs/architecture.md, checked on every lint: an import may point to
// the same or a lower layer, never up, and no files import each other in a circle. Reads the
// relative imports of every source file (tests excluded: they may reach anything).
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
/** Lowest first; a folder may import its own layer and those below. */
const LAYERS = {
  domain: 1,
  common: 2,
  integrations: 2,
  simulators: 3,
  dev: 3,
  activities: 3,
  workflows: 4,
  worker: 5,
  client: 5,
  app: 6,
  bench: 7,
  chaos: 7,
};

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function resolve(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const rel = (f) => path.relative(ROOT, f);
const layerOf = (f) => LAYERS[rel(f).split(path.sep)[0]];
const files = Object.keys(LAYERS).flatMap((d) =>
  existsSync(path.join(ROOT, d)) ? sources(path.join(ROOT, d)) : [],
);
const edges = new Map();
const problems = [];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
for (const file of files) {
  const targets = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const target = resolve(file, m[1]);
    if (!target) continue;
    targets.push(target);
    const [a, b] = [layerOf(file), layerOf(target)];
    if (b !== undefined && b > a)
      problems.push(`upward import: ${rel(file)} (layer ${a}) -> ${rel(target)} (layer ${b})`);
  }
  edges.set(file, targets);
}

// Circles: Tarjan's strongly connected components over the file graph.
let index = 0;
const stack = [];
const meta = new Map();
function visit(v) {
  meta.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!edges.has(w)) continue;
    if (!meta.has(w)) {
      visit(w);
      meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
    } else if (meta.get(w).onStack) meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
  }
  if (meta.get(v).low === meta.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      meta.get(w).onStack = false;
      component.push(rel(w));
    } while (w !== v);
    if (component.length > 1) problems.push(`import circle: ${component.sort().join(' <-> ')}`);
  }
}
for (const f of files) if (!meta.has(f)) visit(f);

if (problems.length) {
  process.stderr.write(
    `${problems.join('\n')}\n${problems.length} layering problem(s); see docs/architecture.md (Layers)\n`,
  );
  process.exit(1);
}
process.stdout.write(`layers: ${files.length} files, no upward import, no circle\n`);
