// `wgrad-moco ablate`: two studies of MoCo §4.1 in miniature, each the same short training run
// with one thing changed:
//   momentum   m ∈ {0, 0.9, 0.99, 0.999} with the queue (m = 0 is expected to fail or trail);
//   mechanism  queue (MoCo) vs end-to-end (in-batch negatives, keys with gradient) vs memory bank
//              (Wu et al.), Fig. 3 — at the user's m (default 0.99);
// and a comparison of the methods (compare-methods.ts: MoCo v1/v2/v3, SimCLR, memory bank, DCL,
// NNCLR, with train's full-set kNN). `--study momentum|mechanism|both|methods|all` (default both;
// all = both + methods). Writes ablation.md (one table per study, kNN after every epoch) and one
// SVG per study; methods.md and methods.svg. The queue run of the mechanism study has the same
// settings as the momentum study's run at that m, so `both` runs it once (6 trainings, not 7).
// Defaults sized for ~30–40 min on a 2-core lavapipe machine (~90 img/s); any train option overrides.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, type EpochRecord } from './train.ts';
import { lineChart, type Series } from './plot.ts';
import { compareMethods, methodSpecs, methodsGrid } from './compare-methods.ts';

/**
 * Train options the ablation uses unless the command line sets them, as flag–value pairs (K < train
 * size: no stale self-keys). The methods study turns the full-set evaluation back on.
 */
export const ABLATE_DEFAULTS = [
  '--train-size',
  '4000',
  '--test-size',
  '1000',
  '--epochs',
  '5',
  '--K',
  '2048',
  '--probe-epochs',
  '0',
  '--final-eval',
  'false',
];
export const STUDIES = ['momentum', 'mechanism', 'both', 'methods', 'all'];

const MOMENTA = [0, 0.9, 0.99, 0.999];
const MECHANISMS = ['queue', 'end-to-end', 'memory-bank'] as const;
const COLORS = ['#d62728', '#ff7f0e', '#2ca02c', '#1f77b4'];

/** Removes `--name value` / `--name=value` from argv; returns the value (last one wins). */
function takeOption(argv: string[], name: string): { value: string | undefined; rest: string[] } {
  let value: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) {
      value = argv[++i];
      if (value === undefined) throw new Error(`wgrad-moco ablate: --${name} needs a value`);
    } else if (argv[i].startsWith(`--${name}=`)) value = argv[i].slice(name.length + 3);
    else rest.push(argv[i]);
  }
  return { value, rest };
}

interface Run {
  label: string;
  records: EpochRecord[];
  args: string[];
  note?: string;
}

function table(title: string, runs: Run[]): string {
  const epochs = Math.max(...runs.map((r) => r.records.length));
  const head = [
    title,
    'final loss',
    'final pretext acc (%)',
    ...Array.from({ length: epochs }, (_, e) => `kNN ep ${e + 1} (%)`),
    'time (s)',
  ];
  const rows = runs.map((r) => {
    const last = r.records[r.records.length - 1];
    const knn = Array.from({ length: epochs }, (_, e) => (r.records[e] ? r.records[e].knn.toFixed(2) : ''));
    const secs = r.records.reduce((s, x) => s + x.seconds, 0);
    return [r.label + (r.note ? ` (${r.note})` : ''), last.loss.toFixed(4), (100 * last.accuracy).toFixed(1), ...knn, secs.toFixed(0)];
  });
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function chart(title: string, runs: Run[]): string {
  const series: Series[] = runs.map((r, i) => ({
    name: r.label,
    color: COLORS[i % COLORS.length],
    points: r.records.map((x) => [x.epoch, x.knn] as [number, number]),
  }));
  const loss: Series[] = runs.map((r, i) => ({
    name: r.label,
    color: COLORS[i % COLORS.length],
    points: r.records.map((x) => [x.epoch, x.loss] as [number, number]),
  }));
  return lineChart(title, 'epoch', [
    { yLabel: 'kNN top-1 (%)', series },
    { yLabel: 'contrastive loss', series: loss },
  ]);
}

export async function ablate(argv: string[]): Promise<void> {
  const outOpt = takeOption(argv, 'out');
  const studyOpt = takeOption(outOpt.rest, 'study');
  const out = outOpt.value ?? 'runs/ablate';
  const study = studyOpt.value ?? 'both';
  if (!STUDIES.includes(study)) throw new Error(`wgrad-moco ablate: --study ${study}: expected one of ${STUDIES.join(', ')}`);
  const user = studyOpt.rest;
  // The ablation's defaults, minus those the user sets, then the user's options; each study's own
  // option comes last (the last occurrence wins in train's parser).
  const flagOf = (a: string) => a.slice(2).split('=')[0].replace(/^no-/, '');
  const userFlags = new Set(user.filter((a) => a.startsWith('--')).map(flagOf));
  const baseWithout = (skip: string[]) => {
    const defaults: string[] = [];
    for (let i = 0; i < ABLATE_DEFAULTS.length; i += 2) {
      const flag = flagOf(ABLATE_DEFAULTS[i]);
      if (!userFlags.has(flag) && !skip.includes(flag)) defaults.push(ABLATE_DEFAULTS[i], ABLATE_DEFAULTS[i + 1]);
    }
    return [...defaults, ...user];
  };
  const base = baseWithout([]);
  const mOpt = takeOption(base, 'm').value;
  const m = mOpt === undefined ? 0.99 : Number(mOpt);
  const runMomentum = ['momentum', 'both', 'all'].includes(study);
  const runMechanism = ['mechanism', 'both', 'all'].includes(study);
  const command = `wgrad-moco ablate ${argv.join(' ')}`.trim();
  const baselinesSeen: Record<string, number> = {};
  let first = true;
  const trainRun = async (label: string, extra: string[], dir: string, shared = base) => {
    console.log(`\n=== ablation: ${label} ===`);
    const args = [...shared, ...extra, '--out', path.join(out, dir), ...(first ? [] : ['--no-baselines'])];
    first = false;
    return { args, result: await train(args) };
  };
  const run = async (label: string, extra: string[], dir: string): Promise<Run> => {
    const {
      args,
      result: { records, baselines },
    } = await trainRun(label, extra, dir);
    if (baselines.rawPixels !== undefined) Object.assign(baselinesSeen, baselines);
    return { label, records, args };
  };
  const sections: string[] = [];
  const summaries: string[] = [];
  const files: string[] = [];
  fs.mkdirSync(out, { recursive: true });
  const write = () => {
    const baselines =
      baselinesSeen.rawPixels !== undefined
        ? `Baselines (kNN top-1 on the same data): raw pixels ${baselinesSeen.rawPixels.toFixed(2)}%, random encoder ${baselinesSeen.randomEncoder.toFixed(2)}%.\n\n`
        : '';
    if (!files.includes('ablation.md')) files.unshift('ablation.md');
    fs.writeFileSync(
      path.join(out, 'ablation.md'),
      `# MoCo ablations (§4.1) in miniature\n\nCommand: \`${command}\`\n\n${baselines}${sections.join('\n\n')}\n`,
    );
  };
  const commands = (runs: Run[]) => runs.map((r) => `- ${r.label}: \`wgrad-moco train ${r.args.join(' ')}\``).join('\n');

  const momentumRuns: Run[] = [];
  if (runMomentum) {
    for (const mm of MOMENTA) momentumRuns.push(await run(`m = ${mm}`, ['--mechanism', 'queue', '--m', String(mm)], `m${mm}`));
    sections.push(
      `## Momentum (queue, K from the options)\n\nThe paper (ImageNet, K = 4096): m = 0 fails, 0.9 → 55.2, 0.99 → 57.8, 0.999 → 59.0 linear top-1.\n\n${table('m', momentumRuns)}\n\nRuns:\n${commands(momentumRuns)}`,
    );
    fs.writeFileSync(path.join(out, 'momentum.svg'), chart('Momentum ablation', momentumRuns));
    files.push('momentum.svg');
    summaries.push(table('m', momentumRuns));
    write();
  }
  if (runMechanism) {
    const runs: Run[] = [];
    for (const mech of MECHANISMS) {
      const reuse = mech === 'queue' ? momentumRuns.find((r) => r.label === `m = ${m}`) : undefined;
      if (reuse) runs.push({ ...reuse, label: 'queue (MoCo)', note: `the m = ${m} run above` });
      else runs.push(await run(mech === 'queue' ? 'queue (MoCo)' : mech, ['--mechanism', mech], mech));
    }
    sections.push(
      `## Mechanism (m = ${m} for the queue; end-to-end uses the batch as its negatives, the memory bank K random rows)\n\nThe paper (Fig. 3): end-to-end tracks MoCo while the batch allows, the memory bank trails MoCo by ~2.6 points at K = 65536.\n\n${table('mechanism', runs)}\n\nRuns:\n${commands(runs)}`,
    );
    fs.writeFileSync(path.join(out, 'mechanism.svg'), chart('Contrastive mechanisms', runs));
    files.push('mechanism.svg');
    summaries.push(table('mechanism', runs));
    write();
  }
  if (study === 'methods' || study === 'all') {
    // Every method ends with train's full-set kNN (train's default) unless the command line turns it off.
    const shared = baseWithout(['final-eval']);
    const supportSet = userFlags.has('support-set-size') ? undefined : Number(takeOption(base, 'K').value);
    first = true; // the methods' table holds its own baselines
    const specs = methodSpecs(supportSet);
    const runs = await compareMethods(
      specs,
      async (spec) => ({ spec, ...(await trainRun(spec.label, spec.args, path.join('methods', spec.dir), shared)) }),
      out,
      command,
    );
    files.push('methods.md', 'methods.svg');
    summaries.push(methodsGrid(runs));
  }
  console.log(`\n${summaries.join('\n\n')}\n\nwritten to ${files.map((f) => path.join(out, f)).join(', ')}`);
}
