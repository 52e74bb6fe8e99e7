// The parity check of issue 4: wgrad's `train --json` metrics of the reference configuration next
// to the PyTorch reference run (results_torch.json), as a markdown table and an SVG of both
// curves. kNN top-1 after every epoch must be within 1.5 points.
//   npx tsx bench/reference/compare.ts WGRAD_METRICS.json [OUT_DIR (default bench/reference)]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { lineChart } from '../../src/cli/plot.ts';

const TOLERANCE = 1.5;
const [wgradFile, outDir = 'bench/reference'] = process.argv.slice(2);
if (!wgradFile) throw new Error('usage: npx tsx bench/reference/compare.ts WGRAD_METRICS.json [OUT_DIR]');
const torch = JSON.parse(fs.readFileSync(path.join('bench/reference/results_torch.json'), 'utf8'));
const wgrad = JSON.parse(fs.readFileSync(wgradFile, 'utf8'));

interface Epoch {
  epoch: number;
  loss: number;
  knn: number;
  trainSeconds: number;
}
const torchEpochs: Epoch[] = torch.epochs.map((e: Record<string, number>) => ({
  epoch: e.epoch,
  loss: e.loss,
  knn: e.knn_top1,
  trainSeconds: e.wall_s,
}));
const wgradEpochs: Epoch[] = wgrad.epochs.map((e: Record<string, number>) => ({
  epoch: e.epoch,
  loss: e.loss,
  knn: e.knn,
  trainSeconds: e.seconds,
}));

const rows = torchEpochs.map((t, i) => {
  const w = wgradEpochs[i];
  const diff = w ? w.knn - t.knn : NaN;
  return { t, w, diff, ok: Math.abs(diff) <= TOLERANCE };
});
const fmtS = (s: number) => `${Math.round(s)} s`;
const lines = [
  '| epoch | PyTorch kNN top-1 | wgrad kNN top-1 | difference | within 1.5 | PyTorch loss | wgrad loss | PyTorch train time | wgrad train time |',
  '|---:|---:|---:|---:|:---:|---:|---:|---:|---:|',
  ...rows.map(
    ({ t, w, diff, ok }) =>
      `| ${t.epoch} | ${t.knn.toFixed(2)} % | ${w ? `${w.knn.toFixed(2)} %` : '—'} | ${w ? `${diff >= 0 ? '+' : ''}${diff.toFixed(2)}` : '—'} | ${w ? (ok ? 'yes' : '**no**') : '—'} | ${t.loss.toFixed(3)} | ${w ? w.loss.toFixed(3) : '—'} | ${fmtS(t.trainSeconds)} | ${w ? fmtS(w.trainSeconds) : '—'} |`,
  ),
];
const base = torch.baselines;
lines.push(
  '',
  `Baselines (kNN k = 200, t = 0.1, 60,000 bank / 10,000 test): raw pixels ${base.knn_raw_pixels.toFixed(2)} % (PyTorch)` +
    (wgrad.baselines?.rawPixels !== undefined ? ` / ${wgrad.baselines.rawPixels.toFixed(2)} % (wgrad)` : '') +
    `, random-init encoder ${base.knn_random_encoder.toFixed(2)} % (PyTorch)` +
    (wgrad.baselines?.randomEncoder !== undefined ? ` / ${wgrad.baselines.randomEncoder.toFixed(2)} % (wgrad; another random init)` : '') +
    '.',
);
lines.push(
  '',
  `Whole run, wall clock: PyTorch ${fmtS(torch.total_wall_s)} (training ${fmtS(torch.train_wall_s)}), wgrad ${fmtS(wgrad.wallSeconds)} (training ${fmtS(wgradEpochs.reduce((s, e) => s + e.trainSeconds, 0))}).`,
);
const table = lines.join('\n') + '\n';

const svg = lineChart('MoCo on Fashion-MNIST, reference configuration: wgrad vs PyTorch', 'epoch', [
  {
    yLabel: 'InfoNCE loss (epoch mean)',
    series: [
      { name: 'PyTorch', color: '#1f77b4', points: torchEpochs.map((e) => [e.epoch, e.loss]) },
      { name: 'wgrad', color: '#d62728', points: wgradEpochs.map((e) => [e.epoch, e.loss]) },
    ],
  },
  {
    yLabel: 'kNN top-1 (%)',
    series: [
      { name: 'PyTorch', color: '#1f77b4', points: torchEpochs.map((e) => [e.epoch, e.knn]) },
      { name: 'wgrad', color: '#d62728', points: wgradEpochs.map((e) => [e.epoch, e.knn]) },
      { name: 'raw pixels', color: '#7f7f7f', points: torchEpochs.map((e) => [e.epoch, base.knn_raw_pixels]) },
    ],
  },
]);
fs.writeFileSync(path.join(outDir, 'parity.md'), table);
fs.writeFileSync(path.join(outDir, 'parity.svg'), svg);
console.log(table);
const failed = rows.filter((r) => r.w && !r.ok);
if (failed.length) {
  console.log(`kNN differs by more than ${TOLERANCE} points after epoch(s) ${failed.map((r) => r.t.epoch).join(', ')}`);
  process.exitCode = 1;
}
