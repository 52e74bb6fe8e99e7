// Hand-written mutants, checked against the test files that should catch them: WGSL kernels
// (outside StrykerJS's reach) and the formula perturbations issue 22 asks the suite to catch.
// Each mutant replaces one exact snippet (which must occur once), runs its tests, and restores the
// file, also on Ctrl-C. A mutant is killed when its tests fail. Prints a Markdown table.
//
//   npx tsx scripts/mutants.ts              # all
//   npx tsx scripts/mutants.ts sigmoid adam # the mutants whose id contains a word

import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

interface Mutant {
  id: string;
  file: string;
  find: string;
  replace: string;
  tests: [string, string];
  note?: string;
}

const OPS = (names: string): [string, string] => ['test/ops', `^(${names})\\.test\\.ts$`];

export const MUTANTS: Mutant[] = [
  // The perturbations named by issue 22 ("What this issue must show").
  {
    id: 'sigmoid-derivative-x1.008',
    file: 'src/ops/elementwise.ts',
    find: "df: 'g * out * (1.0 - out)' }",
    replace: "df: 'g * out * (1.0 - out) * 1.008' }",
    tests: OPS('elementwise|formulas'),
  },
  {
    id: 'key-clone-x0.9',
    file: 'src/moco/momentum.ts',
    find: 'keep(noGrad(() => clone(v)))',
    replace: 'keep(noGrad(() => clone(v).mul(0.9)))',
    tests: ['test/moco', '^(momentum|crosscheck)\\.test\\.ts$'],
  },
  {
    id: 'tanh-derivative-x1.005',
    file: 'src/ops/elementwise.ts',
    find: "df: 'g * (1.0 - out * out)' }",
    replace: "df: 'g * (1.0 - out * out) * 1.005' }",
    tests: OPS('elementwise|formulas'),
  },
  {
    id: 'softmax-backward-x1.005',
    file: 'src/ops/softmax.ts',
    find: "WRITE: 'a * (b - dot)' }",
    replace: "WRITE: 'a * (b - dot) * 1.005' }",
    tests: OPS('softmax'),
  },
  {
    id: 'logsumexp-backward-x1.005',
    file: 'src/ops/reduce.ts',
    find: "'x0 * exp(x1 - x2)', 'logsumexp.backward'",
    replace: "'x0 * exp(x1 - x2) * 1.005', 'logsumexp.backward'",
    tests: OPS('reduce'),
  },
  {
    id: 'variance-backward-x1.005',
    file: 'src/ops/reduce.ts',
    find: "'x0 * 2.0 * (x1 - x2) * p.a', 'var.backward'",
    replace: "'x0 * 2.0 * (x1 - x2) * p.a * 1.005', 'var.backward'",
    tests: OPS('reduce'),
  },
  {
    id: 'avg-pool-backward-x1.005 (window kernel)',
    file: 'kernels/pool2d_backward_window.wgsl',
    find: 'let avg = gv / f32(p.kh * p.kw);',
    replace: 'let avg = gv * 1.005 / f32(p.kh * p.kw);',
    tests: OPS('pool'),
  },
  {
    id: 'max-pool-backward-x1.005 (gather kernel)',
    file: 'kernels/pool2d_backward.wgsl',
    find: 'acc += g[o]; }',
    replace: 'acc += g[o] * 1.005; }',
    tests: OPS('pool'),
  },
  // The contrastive losses and mechanisms against their float64 PyTorch step (test/moco/losses-crosscheck.test.ts).
  {
    id: 'dcl: positive kept in the denominator',
    file: 'src/moco/losses.ts',
    find: 'const negOnly = sim.sub(posMask.mul(1e9));',
    replace: 'const negOnly = sim;',
    tests: ['test/moco', '^losses-crosscheck\\.test\\.ts$'],
  },
  {
    id: 'ntxent: positive term x1.01',
    file: 'src/moco/losses.ts',
    find: 'const loss = logsumexp(sim, 1, true).sub(pos).mean();',
    replace: 'const loss = logsumexp(sim, 1, true).sub(pos.mul(1.01)).mean();',
    tests: ['test/moco', '^losses-crosscheck\\.test\\.ts$'],
  },
  {
    id: 'symmetric moco: key batches enqueued in swapped order',
    file: 'src/moco/moco.ts',
    find: 'concat([k1, k2], 0)',
    replace: 'concat([k2, k1], 0)',
    tests: ['test/moco', '^losses-crosscheck\\.test\\.ts$'],
  },
  {
    id: 'end-to-end: keys detached (no gradient through the key view)',
    file: 'src/moco/moco.ts',
    find: 'const k = this.shuffled(this.encoderQ, xk);',
    replace: 'const k = this.shuffled(this.encoderQ, xk).detach();',
    tests: ['test/moco', '^losses-crosscheck\\.test\\.ts$'],
  },
  // WGSL: constants, index offsets, swapped operands.
  {
    id: 'sgd: update sign',
    file: 'kernels/sgd.wgsl',
    find: 'param[p.off_p + i] = w - p.lr * d;',
    replace: 'param[p.off_p + i] = w + p.lr * d;',
    tests: ['test/optim', '^optimizers\\.test\\.ts$'],
  },
  {
    id: 'sgd: dampening sign',
    file: 'kernels/sgd.wgsl',
    find: '(1.0 - p.dampening) * d',
    replace: '(1.0 + p.dampening) * d',
    tests: ['test/optim', '^optimizers\\.test\\.ts$'],
  },
  {
    id: 'adamw: eps doubled',
    file: 'kernels/adamw.wgsl',
    find: 'sqrt(v) / p.bc2_sqrt + p.eps;',
    replace: 'sqrt(v) / p.bc2_sqrt + 2.0 * p.eps;',
    tests: ['test/optim', '^(optimizers|adam-rmsprop)\\.test\\.ts$'],
  },
  {
    id: 'adamw: g*g -> g*w0',
    file: 'kernels/adamw.wgsl',
    find: 'p.one_minus_beta2 * (g * g)',
    replace: 'p.one_minus_beta2 * (g * w0)',
    tests: ['test/optim', '^(optimizers|adam-rmsprop)\\.test\\.ts$'],
  },
  {
    id: 'cross-entropy backward: smoothing sign',
    file: 'kernels/cross_entropy_backward.wgsl',
    find: 'out[k] = gs * (soft - hit - p.uni);',
    replace: 'out[k] = gs * (soft - hit + p.uni);',
    tests: OPS('loss'),
  },
  {
    id: 'cross-entropy backward: label index + 1',
    file: 'kernels/cross_entropy_backward.wgsl',
    find: 'labels[p.t_offset + i * p.t_stride] == f32(c)',
    replace: 'labels[p.t_offset + i * p.t_stride + 1u] == f32(c)',
    tests: OPS('loss'),
  },
  {
    id: 'elementwise index: operands swap strides (generated WGSL)',
    file: 'src/ops/codegen/elementwise.ts',
    find: 'stride(4 * g + j, d)',
    replace: 'stride(4 * g + (j ^ 1), d)',
    tests: OPS('elementwise'),
  },
  {
    id: 'matmul: row 1 reads row 0',
    file: 'kernels/matmul.wgsl',
    find: 'acc[1] += A[rows[1] + ka] * bv;',
    replace: 'acc[1] += A[rows[0] + ka] * bv;',
    tests: OPS('matmul'),
  },
  {
    id: 'pool backward: window start offset',
    file: 'kernels/pool2d_backward.wgsl',
    find: 'max(0, (hp - i32(p.kh) + i32(p.sh)) / i32(p.sh))',
    replace: 'max(0, (hp - i32(p.kh)) / i32(p.sh))',
    tests: OPS('pool'),
  },
  {
    id: 'batchnorm finish: count + 1',
    file: 'kernels/batchnorm_finish.wgsl',
    find: 'let R = f32(p.count);',
    replace: 'let R = f32(p.count + 1u);',
    tests: OPS('norm'),
  },
  {
    id: 'rowwise: max taken from element 1',
    file: 'src/ops/codegen/rowwise.ts',
    find: 'let first_a = A[base.x];',
    replace: 'let first_a = A[base.x + p.dstrides.x];',
    tests: OPS('softmax|reduce'),
    note: 'equivalent if it survives: any element of the row is a valid start for the running max',
  },
];

let restore: (() => void) | null = null;
process.on('SIGINT', () => {
  restore?.();
  process.exit(130);
});

const words = process.argv.slice(2);
const chosen = MUTANTS.filter((m) => words.length === 0 || words.some((w) => m.id.includes(w)));
const rows: string[] = [];
for (const m of chosen) {
  const original = readFileSync(m.file, 'utf8');
  const count = original.split(m.find).length - 1;
  if (count !== 1) throw new Error(`mutant '${m.id}': the snippet occurs ${count} times in ${m.file} (must be once): ${m.find}`);
  restore = () => writeFileSync(m.file, original);
  const t0 = Date.now();
  let status: number | null;
  try {
    writeFileSync(m.file, original.replace(m.find, m.replace));
    status = spawnSync('npx', ['uvu', '-r', 'tsx', ...m.tests], { stdio: 'ignore', timeout: 600_000 }).status;
  } finally {
    restore();
    restore = null;
  }
  const verdict = status === 0 ? 'SURVIVED' : 'killed';
  const row = `| ${m.id} | \`${m.file}\` | \`${m.tests[0]} ${m.tests[1]}\` | ${verdict} | ${((Date.now() - t0) / 1000).toFixed(0)} s |${m.note && status === 0 ? ` ${m.note}` : ''}`;
  console.log(row);
  rows.push(row);
}
const killed = rows.filter((r) => r.includes('| killed |')).length;
console.log(`\n${killed} / ${rows.length} killed`);
