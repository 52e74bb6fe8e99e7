// The CLI's option syntax and output: one boolean syntax (--x, --no-x, --x=false, --x false) with
// errors for values that are not booleans; a default the help text states itself is printed once;
// an error is printed with one prefix; the progress bar piped to a file prints about ten lines.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, helpText, type OptionSpec } from '../src/cli/args.ts';
import { Progress } from '../src/cli/progress.ts';
import { TRAIN_OPTIONS } from '../src/cli/train.ts';
import { throwsWith } from './helpers.ts';
import { runCli } from './reliability/cli.ts';

const SPEC = {
  baselines: { type: 'bool', default: true, help: 'kNN baselines' },
  cosine: { type: 'bool', default: false, help: 'cosine schedule' },
  epochs: { type: 'int', default: 1, help: 'epochs' },
} satisfies Record<string, OptionSpec>;

test('booleans: --x, --no-x, --x=false, --x false (and true/1/0/yes/no) all work, and mix with other options', () => {
  const p = (...a: string[]) => parseArgs(a, SPEC, 'wgrad-moco train');
  assert.equal(p('--cosine'), { baselines: true, cosine: true, epochs: 1 });
  assert.equal(p('--no-baselines'), { baselines: false, cosine: false, epochs: 1 });
  assert.equal(p('--baselines=false'), { baselines: false, cosine: false, epochs: 1 });
  assert.equal(p('--baselines', 'false', '--epochs', '3'), { baselines: false, cosine: false, epochs: 3 });
  assert.equal(p('--cosine', 'true'), { baselines: true, cosine: true, epochs: 1 });
  assert.equal(p('--cosine', '--epochs', '2'), { baselines: true, cosine: true, epochs: 2 });
  assert.equal(p('--cosine', '0'), { baselines: true, cosine: false, epochs: 1 });
  assert.equal(p('--cosine=yes', '--baselines=no'), { baselines: false, cosine: true, epochs: 1 });
});

test('booleans: values that are not booleans are errors, --no-x takes no value', () => {
  const p = (...a: string[]) => parseArgs(a, SPEC, 'wgrad-moco train');
  throwsWith(() => p('--no-cosine=3'), 'wgrad-moco train: --no-cosine=3: --no-cosine takes no value');
  throwsWith(() => p('--cosine=maybe'), '--cosine=maybe: expected true or false');
  throwsWith(() => p('--baselines', 'maybe'), "unexpected argument 'maybe'");
});

test('help: --data-dir states its default once', () => {
  const line = helpText(TRAIN_OPTIONS)
    .split('\n')
    .find((l) => l.includes('--data-dir'))!;
  assert.is(line.match(/default/g)?.length, 1, line);
  assert.ok(helpText(SPEC).includes('--epochs             epochs (default: 1)'));
});

test('errors are printed with one prefix', async () => {
  const r = await runCli(['train', '--baselines=maybe']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'wgrad-moco train: --baselines=maybe: expected true or false');
  assert.not.match(r.stderr, 'wgrad-moco: wgrad-moco');
});

test('progress piped to a file: a line every ~10 % (not one per update), and the last', () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (m: string) => lines.push(m);
  try {
    const bar = new Progress(60, 'epoch 1/1');
    for (let done = 1; done <= 60; done++) bar.update(done, { loss: '1.0' }, false, false);
  } finally {
    console.log = log;
  }
  assert.ok(lines.length >= 9 && lines.length <= 12, `${lines.length} lines for 60 updates`);
  assert.ok(lines.at(-1)!.includes('60/60'));
});

test.run();
