// The import rules the docs state hold in the code (issue 18). The layer order is read from
// docs/ARCHITECTURE.md's "Arrows point one way: `cli → moco → … → device`" line, and which files
// belong to which layer from README.md's layout table (its first column; a row named after no
// layer is either "nothing of wgrad", a leaf that imports only itself, or "everything", the top),
// so editing either doc changes what is checked. Every file of src/ must be in the table. Every
// import of src/**/*.ts counts: `import`, `import type`, `export … from` and `import('…')`.
// A module may import its own layer and the layers below it; src/reference/, the float64 oracle,
// is used by gradcheck only, and may itself import types only (the attribute records it replays),
// so production code never runs oracle code and the oracle never runs production code.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsComments } from './source-text.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');

// Known upward imports, each with why it stays. Keys are `importer -> imported`; an importer or
// imported ending in '/' stands for every file under it.
const ALLOWED: Record<string, string> = {
  'src/tensor.ts -> src/ops/':
    "Tensor's methods (a.matmul(b), a.sum()) are thin calls into the ops; nothing runs at load time, so the cycle is harmless",
  'src/tensor.ts -> src/autograd/': 'a.backward() calls the backward pass; the GradNode type of a.grad_fn',
  'src/device/capture.ts -> src/runtime.ts': 'README layout table: capture.ts takes the current device from runtime.ts',
  'src/device/capture.ts -> src/tensor.ts': 'capture.ts names the Tensor type of the buffers it captures (a type only)',
  'src/nn/init.ts -> src/reference/elementwise.ts':
    "trunc_normal_'s mass needs a float64 erfc (JavaScript has no Math.erf); the oracle's is the tested one",
};
const ORACLE_USERS = ['src/autograd/gradcheck.ts'];

/** The layer names, lowest first, from docs/ARCHITECTURE.md. */
function layerOrder(): string[][] {
  const m = /Arrows point one way: `([^`]+)`/.exec(read('docs/ARCHITECTURE.md'));
  if (!m) throw new Error('docs/ARCHITECTURE.md lost its "Arrows point one way: `a → b`" line; the test reads the layer order from it');
  return m[1]
    .split('→')
    .map((s) => s.trim().split('/'))
    .reverse();
}

interface Row {
  paths: string[];
  rank: number;
  leaf: boolean;
}

/** README.md's layout table, src/ rows only, each with its layer rank (Infinity: the top). */
function layoutRows(order: string[][]): Row[] {
  const readme = read('README.md');
  const start = readme.indexOf('## Layout');
  if (start < 0) throw new Error('README.md lost its "## Layout" section; the test reads the layers from its table');
  const rows: Row[] = [];
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5) continue;
    const paths = [...cells[1].matchAll(/`(src\/[^`]*)`/g)].map((p) => p[1]);
    if (paths.length === 0) continue;
    const name = /^src\/([^/.]+)/.exec(paths[0])![1];
    const rank = order.findIndex((names) => names.includes(name));
    const mayImport = cells[3];
    if (rank >= 0) rows.push({ paths, rank, leaf: false });
    else if (mayImport.startsWith('nothing of wgrad')) rows.push({ paths, rank: -1, leaf: true });
    else if (mayImport.startsWith('everything')) rows.push({ paths, rank: Infinity, leaf: false });
    else
      throw new Error(
        `README layout row ${paths.join(', ')}: '${name}' is no layer of docs/ARCHITECTURE.md and its "may import" is neither "nothing of wgrad" nor "everything"`,
      );
  }
  return rows;
}

/** The row a file belongs to: the longest path of the table that names it or a folder above it. */
function rowOf(rows: Row[], file: string): { row: Row; path: string } | undefined {
  let best: { row: Row; path: string } | undefined;
  for (const row of rows) {
    for (const p of row.paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && (!best || p.length > best.path.length)) best = { row, path: p };
    }
  }
  return best;
}

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
  );
}

/** What a file imports: [specifier, type-only], comments removed first. */
export function importsOf(text: string): [string, boolean][] {
  let code = text;
  for (const c of tsComments(text).split('\n')) if (c !== '') code = code.replace(c, '');
  const out: [string, boolean][] = [];
  const stmt = /(?:^|[;}\s])(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(stmt)) out.push([m[3], m[2] !== undefined]);
  for (const m of code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push([m[1], false]);
  return out;
}

const allowed = (from: string, to: string) =>
  Object.keys(ALLOWED).some((k) => {
    const [a, b] = k.split(' -> ');
    return (a.endsWith('/') ? from.startsWith(a) : from === a) && (b.endsWith('/') ? to.startsWith(b) : to === b);
  });

/** Every import of src/ that breaks the rules, as 'importer -> imported: why'. */
function violations(): { bad: string[]; edges: number } {
  const rows = layoutRows(layerOrder());
  const bad: string[] = [];
  let edges = 0;
  for (const file of sources('src')) {
    const from = rowOf(rows, file);
    if (!from) {
      bad.push(`${file} is in no row of README.md's layout table; add it to the row of its layer`);
      continue;
    }
    for (const [spec, typeOnly] of importsOf(read(file))) {
      if (!spec.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      const to = rowOf(rows, target);
      if (!to) {
        bad.push(`${file} -> ${target}: the target is in no row of the layout table`);
        continue;
      }
      edges++;
      if (to.row === from.row || allowed(file, target)) continue;
      const oracle = target.startsWith('src/reference/');
      if (oracle && ORACLE_USERS.includes(file)) continue;
      if (oracle) bad.push(`${file} -> ${target}: production code uses the test oracle (only ${ORACLE_USERS.join(', ')} may)`);
      else if (from.row.leaf && !(typeOnly && file.startsWith('src/reference/')))
        bad.push(`${file} -> ${target}: ${from.path} imports nothing of wgrad`);
      else if (!from.row.leaf && !to.row.leaf && to.row.rank > from.row.rank)
        bad.push(`${file} -> ${target}: a lower layer imports a higher one`);
    }
  }
  return { bad, edges };
}

test('the layer order and the table are read from the docs', () => {
  const order = layerOrder();
  assert.equal(order[0], ['device']);
  assert.equal(order[order.length - 1], ['cli']);
  const rows = layoutRows(order);
  const rank = (f: string) => rowOf(rows, f)!.row.rank;
  assert.ok(rank('src/device/pool.ts') < rank('src/tensor.ts') && rank('src/tensor.ts') < rank('src/ops/matmul.ts'));
  assert.equal(rank('src/ops/matmul.ts'), rank('src/autograd/graph.ts'));
  assert.ok(rank('src/nn/layers.ts') < rank('src/moco/moco.ts') && rank('src/moco/moco.ts') < rank('src/cli/main.ts'));
  assert.ok(rowOf(rows, 'src/reference/conv.ts')!.row.leaf);
});

test('the import parser sees every form, and nothing in comments or strings', () => {
  const src = [
    "import { a } from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {\n  c,\n  type D,\n} from "./c.ts";',
    "export { e } from './e.ts';",
    "export type { F } from './f.ts';",
    "export * as g from './g.ts';",
    "const h = await import('./h.ts');",
    "import './side.ts';",
    "// import { x } from './comment.ts';",
    'const s = "import { y } from \'./string.ts\'";',
  ].join('\n');
  assert.equal(importsOf(src), [
    ['./a.ts', false],
    ['../b.ts', true],
    ['./c.ts', false],
    ['./e.ts', false],
    ['./f.ts', true],
    ['./g.ts', false],
    ['./side.ts', false],
    ['./h.ts', false],
  ]);
});

test('no module of src/ imports from a higher layer, the oracle, or out of a leaf', () => {
  const { bad, edges } = violations();
  assert.ok(edges > 300, `only ${edges} imports found; the parser is broken`);
  assert.equal(bad, [], `import rule violations (move the import, or list it in ALLOWED with why):\n${bad.join('\n')}`);
});

test('every allow-listed import still exists', () => {
  const all = new Set<string>();
  for (const file of sources('src')) {
    for (const [spec] of importsOf(read(file))) {
      if (spec.startsWith('.')) all.add(`${file} -> ${posix.normalize(posix.join(posix.dirname(file), spec))}`);
    }
  }
  for (const k of Object.keys(ALLOWED)) {
    const [a, b] = k.split(' -> ');
    const used = [...all].some((e) => {
      const [f, t] = e.split(' -> ');
      return allowed(f, t) && (a.endsWith('/') ? f.startsWith(a) : f === a) && (b.endsWith('/') ? t.startsWith(b) : t === b);
    });
    assert.ok(used, `ALLOWED lists '${k}' but no such import is left; drop it`);
  }
});

test.run();
