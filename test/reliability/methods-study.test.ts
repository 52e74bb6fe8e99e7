// `wgrad-moco ablate --study methods` end to end on a tiny budget and a small "full" dataset: the
// table has every method, each row's subset kNN is the one its run logged, the full-set column is
// what `wgrad-moco evaluate --full-sets` recomputes from that run's checkpoint, and the raw-pixel
// baseline row is a float64 kNN.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from './cli.ts';
import { referenceKnn, smallFashionMnist } from './knn-reference.ts';
import { loadDataset } from '../../src/data/node-files.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-methods-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const explain = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-2000)}`;
const DIRS: Record<string, string> = {
  'MoCo v1': 'mocov1',
  'MoCo v2': 'mocov2',
  'MoCo v3': 'mocov3',
  SimCLR: 'simclr',
  'memory bank': 'memory-bank',
  DCL: 'dcl',
  NNCLR: 'nnclr',
};

test('ablate --study methods: seven methods on one budget, figures traceable to their runs', async () => {
  const dir = smallFashionMnist(path.join(tmp, 'small-fashion'), 200, 60);
  const out = path.join(tmp, 'study');
  const args = [
    'ablate',
    '--study',
    'methods',
    '--out',
    out,
    '--data-dir',
    dir,
    '--train-size',
    '96',
    '--test-size',
    '40',
    '--epochs',
    '2',
    '--batch',
    '32',
    '--K',
    '64',
    '--width',
    '4',
    '--dim',
    '16',
    '--knn-k',
    '20',
  ];
  const r = await runCli(args);
  assert.is(r.code, 0, explain(r));
  const md = fs.readFileSync(path.join(out, 'methods.md'), 'utf8');
  assert.match(md, `Command: \`wgrad-moco ${args.join(' ')}\``);
  assert.match(md, /Adapter: \S/);
  const rows = new Map(
    md
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| method') && !l.startsWith('| ---'))
      .map((l) => l.slice(2, -2).split(' | '))
      .map((c) => [c[0], c] as const),
  );
  assert.equal([...rows.keys()], [...Object.keys(DIRS), 'raw pixels (baseline)', 'random encoder (baseline)']);

  for (const [label, d] of Object.entries(DIRS)) {
    const log = fs
      .readFileSync(path.join(out, 'methods', d, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.is(log.length, 2, `${label}: two epochs logged`);
    assert.is(rows.get(label)![2], log[1].knn.toFixed(2), `${label}: subset kNN in the table vs its log`);
    assert.ok(Number(rows.get(label)![1]) > 10, `${label}: full-set kNN ${rows.get(label)![1]}% (10 classes: above chance)`);
  }
  // The method runs do not repeat the baselines; the first run measured them on the full sets.
  const v2 = r.stdout.split('=== ablation: MoCo v2 ===')[1].split('=== ablation:')[0];
  assert.match(v2, 'full sets (200 train / 60 test images');
  assert.not.match(v2, 'raw pixels');

  // Full-set column: MoCo v3's checkpoint re-evaluated by `evaluate --full-sets`, random encoder too.
  const evaluated = await runCli([
    'evaluate',
    '--out',
    path.join(out, 'methods', 'mocov3'),
    '--data-dir',
    dir,
    '--probe-epochs',
    '0',
    '--full-sets',
  ]);
  assert.is(evaluated.code, 0, explain(evaluated));
  const results = JSON.parse(fs.readFileSync(path.join(out, 'methods', 'mocov3', 'evaluation.json'), 'utf8'));
  assert.is(rows.get('MoCo v3')![1], results['fullSets.knn'].toFixed(2), 'MoCo v3 full-set kNN vs evaluate --full-sets');
  assert.is(
    rows.get('random encoder (baseline)')![1],
    results['fullSets.randomEncoder'].toFixed(2),
    'random-encoder baseline vs evaluate --full-sets',
  );
  // Raw pixels: a float64 kNN on all 200 / 60 images.
  const [trainSet, testSet] = (['train', 'test'] as const).map((split) => loadDataset('fashion-mnist', { split, dir }));
  assert.is(rows.get('raw pixels (baseline)')![1], referenceKnn(trainSet, testSet, 20, 0.1).toFixed(2), 'raw-pixel baseline vs float64');

  const svg = fs.readFileSync(path.join(out, 'methods.svg'), 'utf8');
  assert.is(svg.match(/<path /g)?.length, 7, 'one kNN curve per method');
  for (const label of Object.keys(DIRS)) assert.match(svg, `>${label}</text>`);
});

test('ablate --study mechanism still runs with the ablation defaults (flag-value pairs) and without the full sets', async () => {
  const out = path.join(tmp, 'mechanism');
  const r = await runCli([
    'ablate',
    '--study',
    'mechanism',
    '--out',
    out,
    '--train-size',
    '96',
    '--test-size',
    '40',
    '--epochs',
    '1',
    '--batch',
    '32',
    '--K',
    '64',
    '--width',
    '4',
    '--dim',
    '16',
  ]);
  assert.is(r.code, 0, explain(r));
  const md = fs.readFileSync(path.join(out, 'ablation.md'), 'utf8');
  for (const row of ['| queue (MoCo) |', '| end-to-end |', '| memory-bank |']) assert.match(md, row);
  assert.match(md, '--final-eval false');
  assert.not.match(r.stdout, 'full sets (');
  assert.not.ok(fs.existsSync(path.join(out, 'methods.md')));
});

test.run();
