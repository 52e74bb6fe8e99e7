// Every repository path that a comment or a doc names exists, so a renamed or deleted file cannot
// leave pointers behind (issue 18). Scanned: the comments of the code under src/, scripts/, bench/,
// test/, examples/ and web/ (read with a small lexer, so a path inside a string is not
// a claim), the `#` comments of the shell and Python scripts, and README.md, docs/*.md and the other
// Markdown files whole. A repository path is a token that starts at one of the top-level folders
// below, is not part of a longer path or URL (`../src/x`, `dist/src/x`, `https://…/src/x` are not),
// and ends in a file extension, a `/`, or holds a `*` glob, which must match at least one file.
// "Exists" means git knows the file (tracked, or new and not ignored), so a generated file that only
// lies in someone's working copy does not count.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsComments } from './source-text.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TOP = ['src', 'test', 'docs', 'bench', 'scripts', 'kernels', 'web', 'examples'];
const CODE_DIRS = ['src', 'scripts', 'bench', 'test', 'examples', 'web'];

// References that are meant to name something git does not hold, each with why.
const ALLOWED: Record<string, string> = {};

const files: string[] = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '');
const fileSet = new Set(files);
const dirSet = new Set<string>();
for (const f of files) for (let i = f.indexOf('/'); i >= 0; i = f.indexOf('/', i + 1)) dirSet.add(f.slice(0, i + 1));

/** The `#` comments of a shell or Python script (a `#` at a line start or after a blank). */
const hashComments = (text: string) =>
  text
    .split('\n')
    .map((l) => /(?:^|\s)#(?!!)(.*)$/.exec(l)?.[1] ?? '')
    .join('\n');

const PATH = new RegExp(`(?<![A-Za-z0-9_./@~-])(?:${TOP.join('|')})/[A-Za-z0-9_.*/-]*`, 'g');

/** The repository paths a text names, by the rule in the header. */
export function pathsIn(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PATH)) {
    const p = m[0].replace(/[.-]+$/, '');
    const last = p.slice(p.lastIndexOf('/') + 1);
    if (p.endsWith('/') || p.includes('*') || /\.[A-Za-z0-9]+$/.test(last)) out.push(p);
  }
  return out;
}

function exists(p: string): boolean {
  if (p.includes('*')) {
    const re = new RegExp(
      '^' +
        p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*') +
        (p.endsWith('/') ? '' : '$'),
    );
    return files.some((f) => re.test(f));
  }
  return p.endsWith('/') ? dirSet.has(p) : fileSet.has(p) || dirSet.has(p + '/');
}

function scanned(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const f of files) {
    const top = f.slice(0, f.indexOf('/'));
    const text = () => readFileSync(join(root, f), 'utf8');
    if (f.endsWith('.md') && (!f.includes('/') || TOP.includes(top))) out.push({ file: f, text: text() });
    else if (!CODE_DIRS.includes(top)) continue;
    else if (/\.(ts|mjs|js)$/.test(f)) out.push({ file: f, text: tsComments(text()) });
    else if (/\.(sh|py)$/.test(f)) out.push({ file: f, text: hashComments(text()) });
  }
  return out;
}

test('the path pattern: what counts as a repository path and what does not', () => {
  assert.equal(pathsIn('see src/io/checkpoint.ts, kernels/*.wgsl and test/ops/.'), ['src/io/checkpoint.ts', 'kernels/*.wgsl', 'test/ops/']);
  assert.equal(pathsIn('../src/a.ts dist/src/b.ts https://x.org/src/c.ts src/io and runs/x/log.jsonl'), []);
  assert.equal(
    tsComments(
      "const a = '// src/x.ts'; // src/y.ts\nconst b = `${a} // src/z.ts ${`${'}'}`}`; /* docs/A.md */\nconst r = /'\\//g; // bench/B.md",
    ),
    '// src/y.ts\n/* docs/A.md */\n// bench/B.md',
  );
  assert.ok(exists('kernels/*.wgsl') && exists('src/io/') && exists('src/io') && !exists('src/nope.ts'));
});

test('every repository path named in comments and docs exists', () => {
  const missing: string[] = [];
  let count = 0;
  for (const { file, text } of scanned()) {
    for (const p of new Set(pathsIn(text))) {
      count++;
      if (!exists(p) && !(p in ALLOWED)) missing.push(`${file}: ${p}`);
    }
  }
  assert.ok(count > 200, `only ${count} path references found; the scan itself is broken`);
  assert.equal(missing, [], `stale paths (rename the reference, or list it in ALLOWED with why):\n${missing.join('\n')}`);
});

test('every allow-listed path is still named somewhere and still missing', () => {
  const named = new Set(scanned().flatMap(({ text }) => pathsIn(text)));
  for (const p of Object.keys(ALLOWED)) {
    assert.ok(named.has(p), `${p} is allow-listed but no longer named; drop it from ALLOWED`);
    assert.ok(!exists(p), `${p} is allow-listed but exists now; drop it from ALLOWED`);
  }
});

test.run();
