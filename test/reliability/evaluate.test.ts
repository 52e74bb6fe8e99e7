// `wgrad-moco train` with its baselines and `wgrad-moco evaluate`, end to end in child processes:
// the raw-pixel baseline both print equals a float64 kNN on the same images, and evaluate's kNN
// of the checkpoint's backbone equals the kNN train logged after its last epoch.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, tinyTrainArgs, type CliResult } from './cli.ts';
import { TRAIN_OPTIONS, loadData } from '../../src/cli/train.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { toFloat, type ImageDataset } from '../../src/data/dataset.ts';
import { encodeIdx } from '../../src/data/idx.ts';
import { loadDataset } from '../../src/data/node-files.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-evaluate-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const explain = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;

/** Float64 weighted kNN (cosine similarity, top k, weights exp(sim / t)), top-1 in percent. */
function referenceKnn(train: ImageDataset, test: ImageDataset, k: number, t: number): number {
  const d = train.channels * train.height * train.width;
  const unit = (x: Float32Array, i: number) => {
    const v = Array.from(x.subarray(i * d, (i + 1) * d));
    const n = Math.max(Math.hypot(...v), 1e-12);
    return v.map((e) => e / n);
  };
  const [xTr, xTe] = [toFloat(train), toFloat(test)];
  const bank = Array.from({ length: train.count }, (_, i) => unit(xTr, i));
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    const q = unit(xTe, i);
    const sims = bank.map((b, j) => ({ s: b.reduce((a, v, e) => a + v * q[e], 0), y: train.labels[j] }));
    sims.sort((a, b) => b.s - a.s);
    const votes = new Array(10).fill(0);
    for (const { s, y } of sims.slice(0, k)) votes[y] += Math.exp(s / t);
    if (votes.indexOf(Math.max(...votes)) === test.labels[i]) correct++;
  }
  return (100 * correct) / test.count;
}

test('train prints the raw-pixel baseline of a float64 kNN; evaluate reproduces the final kNN from the checkpoint', async () => {
  const out = path.join(tmp, 'run');
  const json = path.join(tmp, 'metrics.json');
  const args = tinyTrainArgs(out, 1).filter((a) => a !== '--no-baselines');
  const trained = await runCli([...args, '--json', json]);
  assert.is(trained.code, 0, explain(trained));
  const metrics = JSON.parse(fs.readFileSync(json, 'utf8'));
  const cfg = parseArgs(args.slice(1), TRAIN_OPTIONS, 'test');
  const { trainSet, testSet } = loadData(cfg);
  const want = referenceKnn(trainSet, testSet, cfg.knnK, cfg.knnT);
  assert.ok(Math.abs(metrics.baselines.rawPixels - want) < 1e-9, `raw pixels: ${metrics.baselines.rawPixels} vs float64 ${want}`);
  assert.match(trained.stdout, `baselines: kNN on raw pixels ${want.toFixed(2)}%`);

  const evaluated = await runCli(['evaluate', '--out', out, '--probe-epochs', '1']);
  assert.is(evaluated.code, 0, explain(evaluated));
  const results = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
  assert.is(results.checkpointEpoch, 1);
  assert.ok(Math.abs(results.rawPixelsKnn - want) < 1e-9, `evaluate raw pixels ${results.rawPixelsKnn} vs ${want}`);
  assert.ok(Math.abs(results.knn - metrics.epochs[0].knn) < 1e-9, `evaluate kNN ${results.knn} vs train's ${metrics.epochs[0].knn}`);
  assert.ok(results.linearProbe > 10 && results.linearProbe <= 100, `linear probe ${results.linearProbe}% (10 classes: above chance)`);
  // The same random encoder (same seed, same draw) as train's baseline, and evaluate says where it wrote.
  assert.is(results.randomEncoderKnn, metrics.baselines.randomEncoder, "evaluate's random-encoder baseline is train's");
  assert.match(evaluated.stdout, `results written to ${path.join(out, 'evaluation.json')}`);
});

test('train ends with the full-set evaluation: all images in the bank and as queries, baselines the same way; evaluate --full-sets reproduces it', async () => {
  // A small "full" dataset: the first 300 training and 100 test images of Fashion-MNIST in IDX files.
  const dir = path.join(tmp, 'small-fashion');
  fs.mkdirSync(dir);
  for (const [split, prefix, n] of [['train', 'train', 300], ['test', 't10k', 100]] as const) {
    const ds = loadDataset('fashion-mnist', { split });
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([n, 28, 28], ds.images.subarray(0, n * 784)));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([n], ds.labels.subarray(0, n)));
  }
  const out = path.join(tmp, 'full');
  const json = path.join(tmp, 'full.json');
  const args = [...tinyTrainArgs(out, 1).filter((a) => a !== '--no-final-eval'), '--data-dir', dir, '--probe-epochs', '2', '--final-probe', '--json', json];
  const trained = await runCli(args);
  assert.is(trained.code, 0, explain(trained));
  const full = JSON.parse(fs.readFileSync(json, 'utf8')).fullSets;
  assert.is(full.trainImages, 300);
  assert.is(full.testImages, 100);
  const cfg = parseArgs(args.slice(1).filter((a) => a !== '--no-baselines'), TRAIN_OPTIONS, 'test');
  const all = { ...cfg, trainSize: 0, testSize: 0 };
  const { trainSet, testSet } = loadData(all);
  const want = referenceKnn(trainSet, testSet, cfg.knnK, cfg.knnT);
  assert.ok(Math.abs(full.rawPixels - want) < 1e-9, `full-set raw pixels: ${full.rawPixels} vs float64 ${want}`);
  assert.match(trained.stdout, `full sets (300 train / 100 test images`);
  for (const k of ['linearProbe', 'randomEncoderProbe']) assert.ok(full[k] > 10 && full[k] <= 100, `${k} ${full[k]}% (10 classes: above chance)`);

  const evaluated = await runCli(['evaluate', '--out', out, '--probe-epochs', '2', '--full-sets', '--data-dir', dir]);
  assert.is(evaluated.code, 0, explain(evaluated));
  const results = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
  for (const k of ['knn', 'rawPixels', 'randomEncoder', 'linearProbe', 'randomEncoderProbe']) {
    assert.ok(Math.abs(results[`fullSets.${k}`] - full[k]) < 1e-9, `evaluate --full-sets ${k} ${results[`fullSets.${k}`]} vs train's ${full[k]}`);
  }
});

test.run();
