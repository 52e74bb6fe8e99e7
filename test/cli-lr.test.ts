// The learning rate of `wgrad-moco train`, which comes from optim's cosine schedule (before, the CLI
// wrote its own cosine). Resuming checks the checkpoint's lr with ===, so the rate must be the same
// double as the CLI's former formula, not merely close: it is compared bitwise with that closed form
// and with rates the former code logged, and a tiny run's log is checked epoch by epoch.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import { TRAIN_OPTIONS, epochLr, train } from '../src/cli/train.ts';
import { setup } from './helpers.ts';
import { tinyTrainArgs } from './reliability/cli.ts';

/** The CLI's own formula before it used src/optim/schedules.ts. */
const former = (lr: number, epoch: number, epochs: number) => lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs));
const config = (...argv: string[]) => parseArgs(argv, TRAIN_OPTIONS, 'wgrad-moco train');

test('epochLr is the former closed form, bit for bit, for every epoch of 1..300-epoch runs', () => {
  let compared = 0;
  for (const lr of [0.06, 0.03, 0.1, 0.0375, 1e-3, 0.3]) {
    for (let epochs = 1; epochs <= 300; epochs++) {
      const cfg = config('--lr', String(lr), '--epochs', String(epochs));
      for (let e = 0; e < epochs; e++, compared++) {
        const want = former(lr, e, epochs);
        if (!Object.is(epochLr(cfg, e), want))
          assert.unreachable(`--lr ${lr} --epochs ${epochs}, epoch ${e}: ${epochLr(cfg, e)} != ${want}`);
      }
    }
  }
  assert.is(compared, 6 * 150 * 301);
});

test('epochLr: the rates the former code logged for a 4-epoch run; constant with --no-cosine', () => {
  assert.equal(
    [0, 1, 2, 3].map((e) => epochLr(config('--epochs', '4'), e)),
    [0.06, 0.05121320343559642, 0.03, 0.008786796564403575],
  );
  assert.equal(
    [0, 1, 2].map((e) => epochLr(config('--epochs', '3'), e)),
    [0.06, 0.045, 0.015000000000000006],
  );
  assert.equal(
    [0, 5, 9].map((e) => epochLr(config('--epochs', '10', '--no-cosine', '--lr', '0.2'), e)),
    [0.2, 0.2, 0.2],
  );
});

test('a 3-epoch run trains each epoch at the closed-form rate', async () => {
  await setup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-cli-lr-'));
  const log = console.log;
  console.log = () => {};
  try {
    const { records } = await train([...tinyTrainArgs(dir, 3).slice(1), '--lr', '0.05']);
    assert.equal(
      records.map((r) => r.lr),
      [0, 1, 2].map((e) => former(0.05, e, 3)),
    );
    const logged = fs
      .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).lr);
    assert.equal(logged, [0.05, 0.037500000000000006, 0.012500000000000006]);
  } finally {
    console.log = log;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
