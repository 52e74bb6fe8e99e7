// Generates docs/API.md, the API reference, from the TypeScript declarations of everything
// src/index.ts exports (the `nn` and `optim` namespaces included), with each declaration's doc
// comment (`@example` blocks become code blocks).
//
//   npm run docs            (= npx tsx scripts/api-docs.ts [out.md])
//
// Why not TypeDoc: TypeDoc (0.28) drives the TypeScript 5/6 compiler API (its peer dependency is
// typescript 5.0–6.0, so `npm install -D typedoc` stops with ERESOLVE here), and this project
// builds with TypeScript 7 (the native compiler), which has no in-process compiler API. So this script
// lets tsc do the type work — `tsc --emitDeclarationOnly` writes .d.ts files in which every
// signature is spelled out (inferred return types included) and doc comments are kept — and then
// reads those .d.ts files with a small scanner: declaration files contain no function bodies, so
// a statement is simply text up to a `;` (or a class/interface body's closing brace) outside
// brackets, strings and comments.
//
// test/docs.test.ts uses collectApi() to fail when an export has no doc comment.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One top-level statement of a .d.ts file, with the doc comment right before it. */
export interface Statement {
  doc: string | null;
  /** The statement's text without its doc comment. */
  text: string;
}

/** An exported declaration, as the reference lists it. */
export interface ApiEntry {
  /** Public name: `tensor`, `nn.Linear`, `nn.init.kaimingNormal`. */
  name: string;
  kind: 'function' | 'class' | 'const' | 'interface' | 'type' | 'enum';
  /** True for a const whose type is a function type (documented like a function). */
  callable: boolean;
  /** Cleaned doc comment text (no `/**`, no leading `*`), or null when there is none. */
  doc: string | null;
  /** Declaration text: signature(s) for functions, the body for classes and interfaces. */
  declaration: string;
  /** `src/ops/elementwise.ts:42` */
  source: string;
  /** Section it is listed under: '' (top level), 'nn', 'optim', 'nn.init'. */
  namespace: string;
}

// ---------------------------------------------------------------------------------------------
// Scanner

/** Index just past the string or template literal that starts at i. */
function skipString(s: string, i: number): number {
  const q = s[i];
  i++;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === q) return i + 1;
    else if (q === '`' && c === '$' && s[i + 1] === '{') i = skipBalanced(s, i + 1);
    else i++;
  }
  return i;
}

/** Index just past the comment that starts at i (`//` or `/*`). */
function skipComment(s: string, i: number): number {
  if (s[i + 1] === '/') {
    const e = s.indexOf('\n', i);
    return e < 0 ? s.length : e + 1;
  }
  const e = s.indexOf('*/', i + 2);
  return e < 0 ? s.length : e + 2;
}

/** Index just past the bracket group that opens at i. */
function skipBalanced(s: string, i: number): number {
  let depth = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(s, i);
      continue;
    }
    if (c === '/' && (s[i + 1] === '/' || s[i + 1] === '*')) {
      i = skipComment(s, i);
      continue;
    }
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return i;
}

const BODY_DECL = /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:class|interface|enum|namespace|module|global)\b/;

/**
 * Splits declaration text into statements (top level of a file, or the members of a class or
 * interface body): each ends at a `;` outside brackets, or at the closing brace of a
 * class/interface/enum/namespace body. A doc comment directly before a statement is attached
 * to it; other comments are dropped.
 */
export function splitStatements(s: string): Statement[] {
  const out: Statement[] = [];
  let i = 0;
  let doc: string | null = null;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c) || c === ';') {
      i++;
      continue;
    }
    if (c === '/' && (s[i + 1] === '/' || s[i + 1] === '*')) {
      const e = skipComment(s, i);
      doc = s.startsWith('/**', i) && !s.startsWith('/**/', i) ? s.slice(i, e) : null;
      i = e;
      continue;
    }
    const start = i;
    const bodyDecl = BODY_DECL.test(s.slice(i, i + 80));
    while (i < s.length) {
      const ch = s[i];
      if (ch === ';') break;
      if (ch === '"' || ch === "'" || ch === '`') {
        i = skipString(s, i);
        continue;
      }
      if (ch === '/' && (s[i + 1] === '/' || s[i + 1] === '*')) {
        i = skipComment(s, i);
        continue;
      }
      if (ch === '{' || ch === '(' || ch === '[') {
        const wasBrace = ch === '{';
        i = skipBalanced(s, i);
        if (wasBrace && bodyDecl) break;
        continue;
      }
      i++;
    }
    out.push({ doc, text: s.slice(start, i).trim() });
    doc = null;
    i++;
  }
  return out;
}

/** The text of a doc comment without the comment markers and leading `*`s. */
export function cleanDoc(doc: string): string {
  const body = doc.replace(/^\/\*\*/, '').replace(/\*\/$/, '');
  const lines = body.split('\n').map((l, i) => (i === 0 ? l.trim() : l.replace(/^\s*\* ?/, '')));
  while (lines.length && lines[0].trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Declarations of one .d.ts file and the exports of src/index.ts

interface Decl {
  kind: ApiEntry['kind'];
  name: string;
  statements: Statement[];
}

interface DtsModule {
  /** Path relative to the declaration root, e.g. `ops/elementwise.d.ts`. */
  file: string;
  decls: Map<string, Decl>;
  /** Exported name → how to find it. */
  exports: Map<string, { local: string } | { from: string; name: string } | { namespaceOf: string }>;
  /** `export * from` targets. */
  starFrom: string[];
}

const DECL_RE =
  /^(export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(function|class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/;

function parseModule(dtsRoot: string, file: string): DtsModule {
  const text = readFileSync(join(dtsRoot, file), 'utf8');
  const mod: DtsModule = { file, decls: new Map(), exports: new Map(), starFrom: [] };
  const resolve = (spec: string) => posix.normalize(posix.join(posix.dirname(file), spec.replace(/\.(?:ts|js)$/, '.d.ts')));
  for (const st of splitStatements(text)) {
    const t = st.text;
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^export\s+\*\s+as\s+(\w+)\s+from\s+['"]([^'"]+)['"]/))) {
      mod.exports.set(m[1], { namespaceOf: resolve(m[2]) });
    } else if ((m = t.match(/^export\s+\*\s+from\s+['"]([^'"]+)['"]/))) {
      mod.starFrom.push(resolve(m[1]));
    } else if ((m = t.match(/^export\s+(?:type\s+)?\{([^}]*)\}(?:\s+from\s+['"]([^'"]+)['"])?/))) {
      for (const part of m[1]
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const [orig, alias] = part
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)
          .map((x) => x.trim());
        mod.exports.set(alias ?? orig, m[2] ? { from: resolve(m[2]), name: orig } : { local: orig });
      }
    } else if ((m = t.match(DECL_RE))) {
      const kind = (m[2] === 'let' || m[2] === 'var' ? 'const' : m[2]) as Decl['kind'];
      const prev = mod.decls.get(m[3]);
      if (prev)
        prev.statements.push(st); // overloads, or interface + const of the same name
      else mod.decls.set(m[3], { kind, name: m[3], statements: [st] });
      if (m[1]) mod.exports.set(m[3], { local: m[3] });
    }
  }
  return mod;
}

/** Where a declaration is in the TypeScript source: `src/ops/shape.ts:120` (or just the file). */
function sourceLocation(dtsFile: string, name: string): string {
  const src = posix.join('src', dtsFile.replace(/\.d\.ts$/, '.ts'));
  const path = join(root, src);
  if (!existsSync(path)) return src;
  const lines = readFileSync(path, 'utf8').split('\n');
  const re = new RegExp(
    `^export\\s+(?:default\\s+)?(?:declare\\s+)?(?:abstract\\s+)?(?:async\\s+)?(?:function\\*?|class|const|let|var|interface|type|enum)\\s+${name.replace(/\$/g, '\\$')}\\b`,
  );
  const at = lines.findIndex((l) => re.test(l));
  return at < 0 ? src : `${src}:${at + 1}`;
}

/** Drops private members and member bodies' comments that are not doc comments. */
function publicMembers(body: string): Statement[] {
  return splitStatements(body).filter((m) => !/^(?:private\b|#)/.test(m.text));
}

function declarationText(decl: Decl): string {
  const strip = (t: string) => t.replace(/^export\s+/, '').replace(/^declare\s+/, '');
  if (decl.kind !== 'class' && decl.kind !== 'interface') return decl.statements.map((s) => strip(s.text)).join('\n');
  const parts: string[] = [];
  for (const st of decl.statements) {
    const open = st.text.indexOf('{', st.text.search(/\b(?:class|interface)\b/));
    const head = strip(st.text.slice(0, open).trim());
    const members = publicMembers(st.text.slice(open + 1, st.text.lastIndexOf('}')));
    const lines = members.map((m) => {
      const doc = m.doc
        ? cleanDoc(m.doc)
            .split('\n')
            .map((l) => `  // ${l}`.trimEnd())
            .join('\n') + '\n'
        : '';
      // tsc indents members by 4 and their nested lines by 8: re-indent to 2 and 4.
      const text = m.text.replace(/\n( *)/g, (_, sp: string) => '\n' + ' '.repeat(2 + Math.max(0, sp.length - 4) / 2));
      return `${doc}  ${text};`;
    });
    parts.push(`${head} {\n${lines.join('\n')}\n}`);
  }
  return parts.join('\n');
}

/**
 * Runs tsc to write declarations of src/ into a temporary folder, and lists every export of
 * src/index.ts (following re-exports and the nn / optim namespaces) with its doc comment.
 */
export function collectApi(): ApiEntry[] {
  const dtsRoot = mkdtempSync(join(tmpdir(), 'wgrad-api-'));
  try {
    const tsc = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--emitDeclarationOnly',
        '--declaration',
        '--outDir',
        dtsRoot,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    if (!existsSync(join(dtsRoot, 'index.d.ts'))) {
      throw new Error(`api-docs: tsc wrote no declarations (exit ${tsc.status}):\n${tsc.stdout}${tsc.stderr}`);
    }
    // A type error elsewhere in src/ still leaves usable declarations; the typecheck reports it.
    return entriesOf(dtsRoot);
  } finally {
    rmSync(dtsRoot, { recursive: true, force: true });
  }
}

/** The exports of `index.d.ts` in a folder of declarations (what collectApi() reads after tsc). */
export function entriesOf(dtsRoot: string): ApiEntry[] {
  const modules = new Map<string, DtsModule>();
  const mod = (file: string) => {
    let m = modules.get(file);
    if (!m) modules.set(file, (m = parseModule(dtsRoot, file)));
    return m;
  };
  const find = (file: string, name: string, seen = new Set<string>()): { decl: Decl; file: string } | { namespaceOf: string } | null => {
    const key = `${file}#${name}`;
    if (seen.has(key)) return null;
    seen.add(key);
    const m = mod(file);
    const e = m.exports.get(name);
    if (e && 'namespaceOf' in e) return e;
    if (e && 'from' in e) return find(e.from, e.name, seen);
    const local = e && 'local' in e ? e.local : null;
    if (local !== null && m.decls.has(local)) return { decl: m.decls.get(local)!, file };
    for (const f of m.starFrom) {
      const r = find(f, name, seen);
      if (r) return r;
    }
    return null;
  };
  // `const f: (x: T) => U` or `const cat: typeof concat` (an alias of a function).
  const isCallableConst = (declaration: string, file: string): boolean => {
    if (/^const\s+[\w$]+\s*:\s*(?:<[^>]*>\s*)?\(/.test(declaration)) return true;
    const alias = declaration.match(/^const\s+[\w$]+\s*:\s*typeof\s+([\w$]+)\s*;?$/);
    return alias !== null && mod(file).decls.get(alias[1])?.kind === 'function';
  };
  const namesOf = (file: string, seen = new Set<string>()): string[] => {
    if (seen.has(file)) return [];
    seen.add(file);
    const m = mod(file);
    return [...m.exports.keys(), ...m.starFrom.flatMap((f) => namesOf(f, seen))];
  };

  const entries: ApiEntry[] = [];
  const walk = (file: string, prefix: string) => {
    for (const name of namesOf(file)) {
      const r = find(file, name);
      const full = prefix ? `${prefix}.${name}` : name;
      if (!r) throw new Error(`api-docs: cannot find the declaration of '${full}' exported by ${file}`);
      if ('namespaceOf' in r) {
        walk(r.namespaceOf, full);
        continue;
      }
      const { decl } = r;
      const docs = decl.statements.map((s) => s.doc).filter((d): d is string => d !== null);
      const declaration = declarationText(decl);
      entries.push({
        name: full,
        kind: decl.kind,
        callable: decl.kind === 'function' || (decl.kind === 'const' && isCallableConst(declaration, r.file)),
        doc: docs.length ? cleanDoc(docs[0]) : null,
        declaration,
        source: sourceLocation(r.file, decl.name),
        namespace: prefix,
      });
    }
  };
  walk('index.d.ts', '');
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Markdown

/**
 * A doc comment cut at its block tags: the text before the first tag, then one piece per tag.
 * Tags start a line or follow text on a one-line comment (`/** Text. @example f(x) *\/`); only
 * JSDoc's block tags count, so `@group(0)` in a WGSL example stays code.
 */
export function docBlocks(doc: string): string[] {
  return doc.split(/(?:^|[ \t]+)(?=@(?:example|param|returns?|see|throws|deprecated|remarks)\b)/m);
}

/** The code of each `@example` of a doc comment. */
export function docExamples(doc: string | null): string[] {
  return docBlocks(doc ?? '')
    .filter((b) => b.startsWith('@example'))
    .map((b) => b.replace(/^@example\s*/, '').trim());
}

/** Doc text → Markdown: `@example` bodies become ts code blocks, `@param` a list. */
function renderDoc(doc: string): string {
  const out: string[] = [];
  const blocks = docBlocks(doc);
  for (const b of blocks) {
    const tag = b.match(/^@(\w+)\s*/);
    if (!tag) {
      out.push(b.trim());
      continue;
    }
    const body = b.slice(tag[0].length).replace(/\s+$/, '');
    if (tag[1] === 'example') {
      const code = body.replace(/^```\w*\n?/, '').replace(/\n?```$/, '');
      out.push('```ts\n' + code + '\n```');
    } else if (tag[1] === 'param') {
      const m = body.match(/^(\{[^}]*\}\s*)?([\w$.[\]]+)\s*(?:-\s*)?([\s\S]*)$/);
      out.push(m ? `- \`${m[2]}\`: ${m[3].replace(/\n/g, ' ')}` : `- ${body}`);
    } else if (tag[1] === 'returns' || tag[1] === 'return') {
      out.push(`Returns ${body}`);
    } else {
      out.push(`*@${tag[1]}* ${body}`);
    }
  }
  return out.filter(Boolean).join('\n\n');
}

const anchor = (name: string) => name.toLowerCase().replace(/[^\w-]/g, '');

export function renderMarkdown(entries: ApiEntry[]): string {
  const sections = new Map<string, ApiEntry[]>();
  for (const e of entries) {
    const key = e.namespace;
    if (!sections.has(key)) sections.set(key, []);
    sections.get(key)!.push(e);
  }
  const title = (ns: string) => (ns === '' ? 'wgrad' : ns);
  const lines: string[] = [
    '# API reference',
    '',
    '<!-- Generated by scripts/api-docs.ts (`npm run docs`) from the declarations of src/index.ts and the',
    '     doc comments in src/. Do not edit by hand: edit the doc comment and regenerate. -->',
    '',
    "Everything `import { … } from 'wgrad'` provides, grouped as exported: top-level functions and",
    'classes, then the `nn` and `optim` namespaces. Each entry gives the TypeScript declaration, the',
    'doc comment and where it is defined. Start with [README.md](../README.md) and',
    '[ARCHITECTURE.md](ARCHITECTURE.md); [MOCO.md](MOCO.md) walks through the MoCo code.',
    '',
    'The dataset readers import `node:fs`, so they have their own entry, `wgrad/data`',
    '([src/data/index.ts](../src/data/index.ts)), which also re-exports the data part of this list:',
    '',
    '```ts',
    'import { loadFashionMnist, loadMnist, loadCifar10, loadDataset, readDataFile, parseIdx, encodeIdx, parseCifar10Batch,',
    "  subset, toFloat, TensorDataset, DataLoader, BatchLoader, FASHION_MNIST_CLASSES, CIFAR10_CLASSES } from 'wgrad/data';",
    "const train = loadFashionMnist({ split: 'train' }); // { images: Uint8Array (N×1×28×28), labels, count, … }; or { dir, split }",
    'for (const [x, y] of new DataLoader(train, { batchSize: 128, shuffle: true })) { /* x [128, 1, 28, 28] in [0, 1] */ }',
    '```',
    '',
  ];
  for (const [ns, list] of sections) {
    const kinds: [string, (e: ApiEntry) => boolean][] = [
      ['Functions', (e) => e.callable && e.kind !== 'class'],
      ['Classes', (e) => e.kind === 'class'],
      ['Constants', (e) => e.kind === 'const' && !e.callable],
      ['Types', (e) => e.kind === 'interface' || e.kind === 'type' || e.kind === 'enum'],
    ];
    lines.push(
      `- **${title(ns)}**: ` +
        kinds
          .flatMap(([, f]) => list.filter(f))
          .map((e) => `[${e.name.slice(ns ? ns.length + 1 : 0)}](#${anchor(e.name)})`)
          .join(', '),
    );
  }
  lines.push('');
  for (const [ns, list] of sections) {
    lines.push(`## ${ns === '' ? 'Top level' : `Namespace \`${ns}\``}`, '');
    for (const e of list) {
      lines.push(`### ${e.name}`, '');
      lines.push(
        `*${e.callable && e.kind === 'const' ? 'function' : e.kind}* — [${e.source}](../${e.source.replace(/:(\d+)$/, '#L$1')})`,
        '',
      );
      lines.push('```ts', e.declaration, '```', '');
      if (e.doc) lines.push(renderDoc(e.doc), '');
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outFile = process.argv[2] ?? join(root, 'docs/API.md');
  const entries = collectApi();
  writeFileSync(outFile, renderMarkdown(entries));
  const missing = entries.filter((e) => !e.doc).map((e) => e.name);
  console.log(
    `api-docs: ${entries.length} exports → ${relative(process.cwd(), outFile)}` +
      (missing.length ? `; ${missing.length} without a doc comment: ${missing.join(', ')}` : ''),
  );
}
