import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from '../helpers.ts';
import { tensor } from '../../src/index.ts';
import { linearProbe } from '../../src/moco/probe.ts';
import { Generator } from '../../src/random.ts';

test.before(setup);

function clusters(n: number, seed: number, sep: number) {
  const g = new Generator(seed);
  const centers = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
  ];
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    x.push(centers[c].map((v) => sep * v + 0.3 * g.normal()));
    y.push(c);
  }
  return { x, y };
}

test('linear probe separates linearly separable features and is near chance on random labels', async () => {
  const tr = clusters(300, 1, 1);
  const te = clusters(90, 2, 1);
  const acc = await linearProbe(tensor(tr.x), tr.y, tensor(te.x), te.y, { epochs: 20, lr: 1, batch: 50 });
  assert.ok(acc > 95, `separable clusters: ${acc}%`);
  const g = new Generator(5);
  const shuffled = te.y.map(() => g.int(3));
  const chance = await linearProbe(
    tensor(tr.x),
    tr.y.map(() => g.int(3)),
    tensor(te.x),
    shuffled,
    { epochs: 20, lr: 1, batch: 50 },
  );
  assert.ok(chance < 55, `random labels should stay near 33%: ${chance}%`);
});

test('linear probe checks shapes', async () => {
  let msg = '';
  try {
    await linearProbe(tensor([[1, 2]]), [0, 1], tensor([[1, 2]]), [0]);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /1 train features but 2 labels/);
});

test.run();
