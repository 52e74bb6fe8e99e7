// `wgrad-moco ablate`: the paper's momentum ablation (Table/Fig. in §4.1) in miniature: the same
// short training run with m ∈ {0, 0.9, 0.99, 0.999}, reporting final loss and kNN accuracy as a
// markdown table and an SVG plot. m = 0 (key encoder = query encoder) is expected to fail or trail.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { train } from './train.ts';
import { lineChart } from './plot.ts';

export async function ablate(argv: string[]): Promise<void> {
  const outIdx = argv.indexOf('--out');
  const out = outIdx >= 0 ? argv[outIdx + 1] : 'runs/ablate';
  const rest = outIdx >= 0 ? [...argv.slice(0, outIdx), ...argv.slice(outIdx + 2)] : argv;
  const momenta = [0, 0.9, 0.99, 0.999];
  const rows: string[] = ['| m | final loss | final kNN top-1 (%) |', '|---|---|---|'];
  const series = [];
  const colors = ['#d62728', '#ff7f0e', '#2ca02c', '#1f77b4'];
  for (const [i, m] of momenta.entries()) {
    console.log(`\n=== ablation: m = ${m} ===`);
    const { records } = await train([...rest, '--m', String(m), '--out', path.join(out, `m${m}`), '--no-baselines']);
    const last = records[records.length - 1];
    rows.push(`| ${m} | ${last.loss.toFixed(4)} | ${last.knn.toFixed(2)} |`);
    series.push({ name: `m=${m}`, color: colors[i], points: records.map((r) => [r.epoch, r.knn] as [number, number]) });
  }
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'ablation.md'), `# Momentum ablation\n\nArguments: \`${rest.join(' ')}\`\n\n${rows.join('\n')}\n`);
  fs.writeFileSync(path.join(out, 'ablation.svg'), lineChart('Momentum ablation', 'epoch', [{ yLabel: 'kNN top-1 (%)', series }]));
  console.log(`\n${rows.join('\n')}\n\nwritten to ${out}/ablation.md and ablation.svg`);
}
