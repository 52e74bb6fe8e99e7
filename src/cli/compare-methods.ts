// `wgrad-moco ablate --study methods`: the contrastive methods wgrad implements, each one training
// run on the same budget (same subsets, epochs, batch, seed, encoder), ending with train's full-set
// kNN. Writes methods.md (one row per method, the full-set baselines beside them) and methods.svg
// (subset kNN after every epoch). The baselines are measured once: the random encoder is the same
// draw of the same seed in every run, and raw pixels do not depend on the method.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainResult } from './train.ts';
import { lineChart, type Series } from './plot.ts';
import { fmtTime } from './progress.ts';

/** One method of the study: the train options that make it, after the shared ones. */
export interface MethodSpec {
  label: string;
  dir: string;
  args: string[];
}

/**
 * v1 and v2 differ as in the MoCo v2 note (linear vs MLP head, v1 vs v2 augmentation, constant vs
 * cosine learning rate); every other method takes v2's head, augmentation and schedule from the
 * shared options. DCL is SimCLR with the decoupled loss, as in the DCL paper. `supportSet`: NNCLR's
 * support-set size (undefined: the shared options' one).
 */
export function methodSpecs(supportSet?: number): MethodSpec[] {
  return [
    { label: 'MoCo v1', dir: 'mocov1', args: ['--method', 'moco', '--no-mlp', '--aug', 'v1', '--no-cosine'] },
    { label: 'MoCo v2', dir: 'mocov2', args: ['--method', 'moco', '--mlp', '--aug', 'v2', '--cosine'] },
    { label: 'MoCo v3', dir: 'mocov3', args: ['--method', 'mocov3'] },
    { label: 'SimCLR', dir: 'simclr', args: ['--method', 'simclr', '--loss', 'ntxent'] },
    { label: 'memory bank', dir: 'memory-bank', args: ['--method', 'moco', '--mechanism', 'memory-bank'] },
    { label: 'DCL', dir: 'dcl', args: ['--method', 'simclr', '--loss', 'dcl'] },
    {
      label: 'NNCLR',
      dir: 'nnclr',
      args: ['--method', 'nnclr', ...(supportSet === undefined ? [] : ['--support-set-size', String(supportSet)])],
    },
  ];
}

export interface MethodRun {
  spec: MethodSpec;
  args: string[];
  result: TrainResult;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const pct = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(2));

/** Training images per second over all epochs (the epochs' own time, no evaluation). */
export function imagesPerSecond(r: TrainResult): number {
  const seconds = r.records.reduce((s, x) => s + x.seconds, 0);
  const images = r.records.reduce((s, x) => s + x.imagesPerSecond * x.seconds, 0);
  return seconds > 0 ? images / seconds : 0;
}

/** The table: one row per method, the baselines as rows below. */
export function methodsGrid(runs: MethodRun[]): string {
  const probe = runs.some((r) => r.result.linearProbeTop1 !== undefined);
  const head = [
    'method',
    'full-set kNN top-1 (%)',
    'subset kNN top-1 (%)',
    ...(probe ? ['linear probe (%)'] : []),
    'images/s',
    'wall time',
  ];
  const rows = runs.map(({ spec, result: r }) => [
    spec.label,
    pct(r.fullSets?.knn),
    pct(r.records[r.records.length - 1]?.knn),
    ...(probe ? [pct(r.linearProbeTop1)] : []),
    imagesPerSecond(r).toFixed(0),
    fmtTime(r.wallSeconds),
  ]);
  const first = runs[0]?.result;
  const blank = (probe ? ['—'] : []).concat(['—', '—']);
  rows.push(['raw pixels (baseline)', pct(first?.fullSets?.rawPixels), pct(first?.baselines.rawPixels), ...blank]);
  rows.push(['random encoder (baseline)', pct(first?.fullSets?.randomEncoder), pct(first?.baselines.randomEncoder), ...blank]);
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** methods.md: header (command, date, adapter), the table, the runs' commands. */
export function methodsTable(runs: MethodRun[], command: string, date: Date): string {
  const first = runs[0]?.result;
  const full = first?.fullSets;
  const sets = full
    ? `full sets: ${full.trainImages} training images in the kNN bank, ${full.testImages} test queries`
    : 'no full-set evaluation (--no-final-eval)';
  return (
    `# Contrastive methods on one budget\n\n` +
    `Command: \`${command}\`  \nDate: ${date.toISOString()}  \nAdapter: ${first?.adapter ?? 'unknown'}\n\n` +
    `Same training and test subsets, epochs, batch, seed and encoder for every method; ${sets}. ` +
    `Subset kNN: the monitor after the last epoch. Images/s: training steps only; wall time: the whole run, evaluations included ` +
    `(the first run also measures the baselines).\n\n${methodsGrid(runs)}\n\n` +
    `Runs:\n${runs.map((r) => `- ${r.spec.label}: \`wgrad-moco train ${r.args.join(' ')}\``).join('\n')}\n`
  );
}

/** methods.svg: subset kNN top-1 after every epoch, one line per method. */
export function methodsChart(runs: MethodRun[]): string {
  const series: Series[] = runs.map((r, i) => ({
    name: r.spec.label,
    color: COLORS[i % COLORS.length],
    points: r.result.records.map((x) => [x.epoch, x.knn] as [number, number]),
  }));
  return lineChart('Contrastive methods on one budget', 'epoch', [{ yLabel: 'subset kNN top-1 (%)', series }]);
}

/**
 * Runs every method with `run(spec)` (the caller adds the shared options and the run folder) and
 * rewrites methods.md and methods.svg in `out` after each, so a stopped study keeps what it measured.
 */
export async function compareMethods(
  specs: MethodSpec[],
  run: (spec: MethodSpec) => Promise<MethodRun>,
  out: string,
  command: string,
): Promise<MethodRun[]> {
  const runs: MethodRun[] = [];
  const date = new Date();
  for (const spec of specs) {
    runs.push(await run(spec));
    fs.writeFileSync(path.join(out, 'methods.md'), methodsTable(runs, command, date));
    fs.writeFileSync(path.join(out, 'methods.svg'), methodsChart(runs));
  }
  return runs;
}
