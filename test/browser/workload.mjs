// What test/browser.test.ts runs, once in Chromium (through index.html, on dist/) and once in
// Node (on src/): plain JavaScript without imports, so that one source serves both. `wg` is the
// wgrad module, `nn` its nn/index module, `MoCo` the class from moco/moco.

/** Deterministic inputs without wgrad's generators: a small LCG in [-1, 1). */
export function lcg(n, seed) {
  const out = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(Math.round(((s / 2 ** 32) * 2 - 1) * 64) / 64); // multiples of 1/64: exact in f32
  }
  return out;
}

export const GRAD_SHAPES = { m: 13, k: 17, n: 11 };

/** d/dx and d/dw of relu(x @ w).sum() for x [m, k], w [k, n] from lcg(). */
export async function gradientCase(wg) {
  const { m, k, n } = GRAD_SHAPES;
  const x = wg.tensor(lcg(m * k, 1), [m, k], { requiresGrad: true });
  const w = wg.tensor(lcg(k * n, 2), [k, n], { requiresGrad: true });
  const loss = wg.relu(wg.matmul(x, w)).sum();
  loss.backward();
  return { loss: await loss.item(), gx: Array.from(await x.grad.toArray()), gw: Array.from(await w.grad.toArray()) };
}

/** A few MoCo steps (SmallConvNet of width 4, 12×12 images, queue of 16) with SGD. */
export async function mocoCase(wg, nn, MoCo, steps = 3) {
  wg.manualSeed(0);
  const encoder = new nn.SmallConvNet({ width: 4, inChannels: 1 });
  const model = new MoCo({ encoder, dim: 8, K: 16, m: 0.9, T: 0.2, mlp: true });
  model.train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const data = new wg.Generator(7);
  const losses = [];
  const accuracies = [];
  for (let s = 0; s < steps; s++) {
    const [loss, acc] = wg.tidy(() => {
      const x = wg.randn([8, 1, 12, 12], { generator: data });
      const xq = x.add(wg.randn([8, 1, 12, 12], { generator: data, std: 0.1 }));
      const xk = x.add(wg.randn([8, 1, 12, 12], { generator: data, std: 0.1 }));
      const out = model.step(xq, xk);
      out.loss.backward();
      opt.step();
      opt.zeroGrad();
      return [wg.keep(out.loss.detach()), wg.keep(out.accuracy)];
    });
    losses.push(await loss.item());
    accuracies.push(await acc.item());
    loss.dispose();
    acc.dispose();
  }
  const first = model.parameters()[0];
  const weights = Array.from(await first.toArray());
  return { losses, accuracies, firstWeights: weights.slice(0, 8), firstShape: first.shape };
}

/** nn.resnet50 with weights from safetensors bytes (convert.py backbone), eval features of `images` from the second file. */
export async function resnet50Case(wg, nn, weightBytes, inputBytes) {
  const net = nn.resnet50();
  const { tensors } = wg.decodeTensors(weightBytes);
  net.loadStateDict(tensors);
  for (const t of Object.values(tensors)) t.dispose();
  net.eval();
  const inputs = wg.decodeTensors(inputBytes).tensors;
  const f = wg.noGrad(() => net.forward(inputs.images));
  const out = { shape: f.shape, features: Array.from(await f.toArray()) };
  for (const t of [f, ...Object.values(inputs), ...net.parameters()]) t.dispose();
  return out;
}
