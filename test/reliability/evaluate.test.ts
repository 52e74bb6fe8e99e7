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
import { referenceKnn, smallFashionMnist } from './knn-reference.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-evaluate-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const explain = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;

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
  const dir = smallFashionMnist(path.join(tmp, 'small-fashion'), 300, 100);
  const out = path.join(tmp, 'full');
  const json = path.join(tmp, 'full.json');
  const args = [
    ...tinyTrainArgs(out, 1).filter((a) => a !== '--no-final-eval' && a !== '--no-baselines'),
    '--data-dir',
    dir,
    '--probe-epochs',
    '2',
    '--final-probe',
    '--json',
    json,
  ];
  const trained = await runCli(args);
  assert.is(trained.code, 0, explain(trained));
  const full = JSON.parse(fs.readFileSync(json, 'utf8')).fullSets;
  assert.is(full.trainImages, 300);
  assert.is(full.testImages, 100);
  const cfg = parseArgs(
    args.slice(1).filter((a) => a !== '--no-baselines'),
    TRAIN_OPTIONS,
    'test',
  );
  const all = { ...cfg, trainSize: 0, testSize: 0 };
  const { trainSet, testSet } = loadData(all);
  const want = referenceKnn(trainSet, testSet, cfg.knnK, cfg.knnT);
  assert.ok(Math.abs(full.rawPixels - want) < 1e-9, `full-set raw pixels: ${full.rawPixels} vs float64 ${want}`);
  assert.match(trained.stdout, `full sets (300 train / 100 test images`);
  for (const k of ['linearProbe', 'randomEncoderProbe'])
    assert.ok(full[k] > 10 && full[k] <= 100, `${k} ${full[k]}% (10 classes: above chance)`);

  const evaluated = await runCli(['evaluate', '--out', out, '--probe-epochs', '2', '--full-sets', '--data-dir', dir]);
  assert.is(evaluated.code, 0, explain(evaluated));
  const results = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
  for (const k of ['knn', 'rawPixels', 'randomEncoder', 'linearProbe', 'randomEncoderProbe']) {
    assert.ok(
      Math.abs(results[`fullSets.${k}`] - full[k]) < 1e-9,
      `evaluate --full-sets ${k} ${results[`fullSets.${k}`]} vs train's ${full[k]}`,
    );
  }
});

test.run();
