// The page of `npm run web`: MoCo on Fashion-MNIST (or MNIST) in this tab, with wgrad from dist/.
// The training loop is the CLI's (src/cli/train.ts) step for step: same seeds, same subsets, same
// augmentation, same model, same checkpoint format (src/moco/run-file.ts), so a run saved here
// resumes with `wgrad-moco train --resume` and evaluates with `wgrad-moco evaluate`.
// The pictures come from src/moco/pictures.ts, as the CLI's retrieval.svg / embedding.svg do.
// Query parameters preset the controls (?trainSize=128&K=64&autostart=1); window.wgradWeb exposes
// the state to test/web.test.ts.

const wg = await import('/dist/index.js');
const { fromArray } = await import('/dist/ops/creation-internal.js');
const { subset, toFloat } = await import('/dist/data/dataset.js');
const { parseIdx } = await import('/dist/data/idx.js');
const pictures = await import('/dist/moco/pictures.js');
const { encodeMocoRun, restoreMocoRun } = await import('/dist/moco/run-file.js');
const { lineChart } = await import('/dist/cli/plot.js');

const $ = (id) => document.getElementById(id);
const CONTROLS = ['trainSize', 'testSize', 'K', 'm', 'T', 'batch', 'cropMin', 'epochs', 'width'];
const PAGE_DEFAULTS = { trainSize: 4000, testSize: 1000, K: 2048, batch: 64, epochs: 4, width: 8 };
const state = (window.wgradWeb = {
  stage: 'loading',
  error: null,
  step: 0,
  epoch: 0,
  losses: [],
  accuracies: [],
  records: [],
  baselines: {},
  timings: { pageStart: performance.now() },
  saved: null,
  counts: {},
});
const setStatus = (s) => {
  $('status').textContent = s;
};

function fail(stage, e) {
  state.stage = 'error';
  state.error = `${stage}: ${(e && e.stack) || e}`;
  setStatus(`error (${stage}): ${(e && e.message) || e}`);
  console.error(state.error);
}

if (!('gpu' in navigator) || !navigator.gpu) {
  $('nogpu').style.display = 'block';
  $('nogpu').textContent =
    'WebGPU is not available in this browser (navigator.gpu is missing), so MoCo cannot train here. ' +
    'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), or run `npm run moco` in a terminal.';
  $('start').disabled = true;
  state.stage = 'no-webgpu';
  throw new Error('navigator.gpu is missing');
}

// ---- configuration: the CLI's defaults (from the server), the page's smaller ones, the URL's.
const defaults = await (await fetch('/defaults.json')).json();
const params = new URLSearchParams(location.search);
const cfg = { ...defaults, ...PAGE_DEFAULTS, probeEpochs: 0, out: 'browser' };
for (const [k, v] of params)
  if (k in cfg && k !== 'dataset')
    cfg[k] = typeof defaults[k] === 'number' ? Number(v) : typeof defaults[k] === 'boolean' ? v === 'true' : v;
const datasets = await (await fetch('/data/datasets.json')).json();
for (const d of datasets)
  $('dataset').add(
    new Option(`${d.name}${d.available ? '' : ' (missing)'}`, d.name, false, d.name === (params.get('dataset') ?? 'fashion-mnist')),
  );
const showControls = () => {
  for (const k of CONTROLS) $(k).value = cfg[k];
  $('dataset').value = cfg.dataset;
};
showControls();
$('source').textContent =
  'data: ' +
  datasets.map((d) => `${d.name} from ${d.source}${d.available ? ` (${d.train} train / ${d.test} test)` : `: ${d.error}`}`).join('; ');

const info = await wg.init();
$('adapter').textContent =
  `adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || '(no info)'} (${info.backend}, ${info.family})`;
state.adapter = info;
state.timings.init = performance.now();

// ---- data, model, optimizer: as buildEncoder / buildModel / loadData in src/cli/train.ts.
async function loadSplit(name, split) {
  const get = async (what) => new Uint8Array(await (await fetch(`/data/${name}/${split}-${what}`)).arrayBuffer());
  const images = parseIdx(await get('images'), `${name} ${split} images`);
  const labels = parseIdx(await get('labels'), `${name} ${split} labels`);
  const d = images.dims;
  const [channels, height, width] = d.length === 3 ? [1, d[1], d[2]] : [d[1], d[2], d[3]];
  const meta = datasets.find((x) => x.name === name);
  return {
    name: `${name}:${split}`,
    images: images.data,
    labels: labels.data,
    count: d[0],
    channels,
    height,
    width,
    classes: meta.classes,
  };
}

let run = null; // everything of the current run

async function buildRun() {
  for (const k of CONTROLS) cfg[k] = Number($(k).value);
  cfg.dataset = $('dataset').value;
  wg.manualSeed(cfg.seed);
  let trainSet = await loadSplit(cfg.dataset, 'train');
  let testSet = await loadSplit(cfg.dataset, 'test');
  if (cfg.trainSize > 0 && cfg.trainSize < trainSet.count) trainSet = subset(trainSet, cfg.trainSize, cfg.seed + 1);
  if (cfg.testSize > 0 && cfg.testSize < testSet.count) testSet = subset(testSet, cfg.testSize, cfg.seed + 2);
  const norm = cfg.shuffleBn === 'split' && cfg.bnSplits > 1 ? (c) => new wg.nn.SplitBatchNorm2d(c, cfg.bnSplits) : undefined;
  const encoder = () => new wg.nn.SmallConvNet({ width: cfg.width, inChannels: trainSet.channels, norm });
  // The baselines' random encoder is the model's own initial backbone, as in the CLI: features first.
  const random = encoder();
  const pixels = { name: 'raw pixels', train: pictures.pixelFeatures(trainSet), test: pictures.pixelFeatures(testSet) };
  const randomSet = { name: 'random encoder', train: features(random, trainSet), test: features(random, testSet) };
  const model = new wg.MoCo({
    encoder: random,
    dim: cfg.dim,
    K: cfg.K,
    m: cfg.m,
    T: cfg.T,
    mlp: cfg.mlp,
    symmetric: cfg.symmetric,
    shuffleBN: cfg.shuffleBn !== 'none',
    loss: cfg.loss,
    momentumSchedule: cfg.momentumSchedule,
    mechanism: 'queue',
  });
  const opt = new wg.optim.SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
  const gens = { dataGen: new wg.Generator(cfg.seed + 3), augGen: new wg.Generator(cfg.seed + 4), defaultGen: wg.defaultGenerator };
  // Grayscale MoCo v2 as in the CLI: crop + flip, brightness/contrast jitter p 0.8, no blur.
  const aug = { crop: { scale: [cfg.cropMin, 1] }, jitter: { p: 0.8 }, grayscale: false, blur: false };
  const written = new Int32Array(cfg.K).fill(-1);
  return { trainSet, testSet, model, opt, gens, aug, pixels, randomSet, written, startEpoch: 0 };
}

/** Backbone features of every image, eval mode (as extractFeatures in src/cli/train.ts). */
function features(backbone, ds, batch = 500) {
  const wasTraining = backbone.training;
  backbone.eval();
  const parts = [];
  for (let s = 0; s < ds.count; s += batch) {
    const idx = Array.from({ length: Math.min(batch, ds.count - s) }, (_, i) => s + i);
    parts.push(
      wg.keep(
        wg.noGrad(() => wg.tidy(() => backbone.forward(fromArray(toFloat(ds, idx), [idx.length, ds.channels, ds.height, ds.width])))),
      ),
    );
  }
  if (wasTraining) backbone.train();
  const all = wg.keep(wg.noGrad(() => wg.concat(parts, 0)));
  for (const p of parts) p.dispose();
  return all;
}

// ---- panels
function drawCurves() {
  const K = cfg.K;
  const smooth = (xs) => xs.map((v, i) => [i + 1, v]);
  const flat = (v, name, color) =>
    v === undefined || !state.records.length
      ? []
      : [
          {
            name,
            color,
            points: [
              [1, v],
              [Math.max(2, state.records.length), v],
            ],
          },
        ];
  const lnK = Math.log(K + 1);
  $('curves').innerHTML = lineChart(`MoCo in the browser (step ${state.step}, epoch ${state.epoch})`, 'step · epoch', [
    {
      yLabel: 'InfoNCE loss',
      series: [
        { name: 'loss', color: '#1f77b4', points: smooth(state.losses) },
        {
          name: `ln(K+1) = ${lnK.toFixed(2)}`,
          color: '#aaa',
          points: state.losses.length
            ? [
                [1, lnK],
                [Math.max(2, state.losses.length), lnK],
              ]
            : [],
        },
      ],
    },
    {
      yLabel: 'pretext accuracy (%)',
      series: [{ name: 'top-1 of K+1', color: '#ff7f0e', points: smooth(state.accuracies.map((a) => 100 * a)) }],
    },
    {
      yLabel: 'kNN top-1 (%) per epoch',
      series: [
        { name: 'MoCo', color: '#d62728', points: state.records.map((r) => [r.epoch, r.knn]) },
        ...flat(state.baselines.rawPixels, 'raw pixels', '#7f7f7f'),
        ...flat(state.baselines.randomEncoder, 'random encoder', '#2ca02c'),
      ],
    },
  ]);
  state.counts.curvePoints = $('curves').querySelectorAll('circle').length;
}

async function drawViews() {
  const { trainSet, aug } = run;
  const idx = pictures.pickQueries(trainSet.labels, 6);
  const gen = new wg.Generator(12345 + state.epoch); // its own generator: the preview must not move training's
  const x = fromArray(toFloat(trainSet, idx), [idx.length, trainSet.channels, trainSet.height, trainSet.width]);
  const [q, k] = wg.twoViews(x, aug, gen);
  const [vq, vk] = [await q.toArray(), await k.toArray()];
  for (const t of [x, q, k]) t.dispose();
  const size = trainSet.channels * trainSet.height * trainSet.width;
  const uri = (data, i) =>
    pictures.pngDataUri(data.subarray(i * size, (i + 1) * size), trainSet.width, trainSet.height, trainSet.channels === 3 ? 3 : 1);
  const raw = toFloat(trainSet, idx);
  $('views').innerHTML = idx
    .map(
      (j, i) =>
        `<figure><img class="view" src="${uri(raw, i)}"><img class="view" src="${uri(vq, i)}"><img class="view" src="${uri(vk, i)}">` +
        `<figcaption>${trainSet.classes[trainSet.labels[j]]}: image · query view · key view</figcaption></figure>`,
    )
    .join('');
  state.counts.viewImages = $('views').querySelectorAll('img').length;
}

function drawQueue() {
  $('queue').innerHTML = pictures.queueSvg(run.written, run.model.queue.ptr, state.step);
  state.counts.queuePtr = run.model.queue.ptr;
}

async function drawEpochPictures(mocoTrain, mocoTest) {
  const { trainSet, testSet, pixels, randomSet } = run;
  $('retrieval').innerHTML = await pictures.retrievalPicture(
    trainSet,
    testSet,
    [{ name: 'MoCo encoder', train: mocoTrain, test: mocoTest }, pixels, randomSet],
    { title: `nearest training images after epoch ${state.epoch}` },
  );
  const { svg } = await pictures.embeddingPicture(mocoTest, testSet, { title: `test embeddings after epoch ${state.epoch}, PCA` });
  $('embedding').innerHTML = svg;
  state.counts.gridImages = $('retrieval').querySelectorAll('image').length;
  state.counts.scatterPoints = $('embedding').querySelectorAll('circle.point').length;
}

// ---- training
let paused = true;
let loop = null;

async function baselines() {
  const { trainSet, testSet, pixels, randomSet } = run;
  state.baselines.rawPixels = await wg.knnAccuracy(pixels.train, trainSet.labels, pixels.test, testSet.labels, {
    k: cfg.knnK,
    t: cfg.knnT,
  });
  state.baselines.randomEncoder = await wg.knnAccuracy(randomSet.train, trainSet.labels, randomSet.test, testSet.labels, {
    k: cfg.knnK,
    t: cfg.knnT,
  });
}

async function trainLoop() {
  const { trainSet, testSet, model, opt, gens, aug } = run;
  const steps = Math.floor(trainSet.count / cfg.batch);
  const shape = [cfg.batch, trainSet.channels, trainSet.height, trainSet.width];
  for (let epoch = run.startEpoch; epoch < cfg.epochs; epoch++) {
    const lr = cfg.cosine ? cfg.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / cfg.epochs)) : cfg.lr;
    for (const g of opt.paramGroups) g.lr = lr;
    model.train();
    const order = gens.dataGen.permutation(trainSet.count);
    let lossSum = 0;
    let accSum = 0;
    const t0 = performance.now();
    for (let step = 0; step < steps; step++) {
      while (paused) await new Promise((r) => setTimeout(r, 100));
      const idx = order.subarray(step * cfg.batch, (step + 1) * cfg.batch);
      const ptr = model.queue.ptr;
      const [l, a] = wg.tidy(() => {
        const [xq, xk] = wg.twoViews(fromArray(toFloat(trainSet, idx), shape), aug, gens.augGen);
        const out = model.step(xq, xk, (epoch * steps + step) / (cfg.epochs * steps), idx);
        out.loss.backward();
        opt.step();
        opt.zeroGrad();
        return [wg.keep(out.loss.detach()), wg.keep(out.accuracy)];
      });
      const [loss, acc] = [await l.item(), await a.item()];
      l.dispose();
      a.dispose();
      state.step++;
      pictures.recordEnqueue(run.written, ptr, cfg.batch, state.step);
      state.losses.push(loss);
      state.accuracies.push(acc);
      lossSum += loss;
      accSum += acc;
      if (state.timings.firstStep === undefined) state.timings.firstStep = performance.now();
      setStatus(
        `epoch ${epoch + 1}/${cfg.epochs}, step ${step + 1}/${steps}: loss ${loss.toFixed(3)}, pretext acc ${(100 * acc).toFixed(1)}%, ` +
          `${((cfg.batch * (step + 1)) / ((performance.now() - t0) / 1000)).toFixed(0)} img/s`,
      );
      drawCurves();
      drawQueue();
    }
    const seconds = (performance.now() - t0) / 1000;
    const [fTr, fTe] = [features(model.backbone, trainSet), features(model.backbone, testSet)];
    const knn = await wg.knnAccuracy(fTr, trainSet.labels, fTe, testSet.labels, { k: cfg.knnK, t: cfg.knnT });
    state.epoch = epoch + 1;
    state.records.push({
      epoch: epoch + 1,
      loss: lossSum / steps,
      accuracy: accSum / steps,
      knn,
      lr,
      seconds,
      imagesPerSecond: (steps * cfg.batch) / seconds,
    });
    drawCurves();
    await drawEpochPictures(fTr, fTe);
    fTr.dispose();
    fTe.dispose();
    await drawViews();
    // The run as the CLI's checkpoint after this epoch (what Save downloads).
    state.saved = await encodeMocoRun(model, opt, gens, {
      epoch: epoch + 1,
      records: state.records,
      baselines: state.baselines,
      config: cfg,
    });
    $('save').disabled = false;
  }
  state.stage = 'done';
  paused = true;
  $('start').textContent = 'Start';
  setStatus(
    `done: ${state.epoch} epochs, kNN top-1 ${state.records.at(-1)?.knn.toFixed(2)}% ` +
      `(raw pixels ${state.baselines.rawPixels?.toFixed(2)}%, random encoder ${state.baselines.randomEncoder?.toFixed(2)}%)`,
  );
}

async function prepare(restore) {
  setStatus('loading data…');
  for (const k of CONTROLS) $(k).disabled = true;
  $('dataset').disabled = true;
  run = await buildRun();
  state.timings.data = performance.now();
  if (restore) {
    const r = restoreMocoRun(restore.tensors, restore.metadata, 'the loaded file', run.model, run.opt, run.gens);
    run.startEpoch = r.epoch;
    state.epoch = r.epoch;
    state.records = r.records;
    state.baselines = r.baselines;
  }
  setStatus('kNN baselines…');
  if (state.baselines.rawPixels === undefined) await baselines();
  state.timings.baselines = performance.now();
  drawCurves();
  drawQueue();
  await drawViews();
  state.stage = 'ready';
}

async function toggle() {
  try {
    if (!run) await prepare();
    paused = !paused;
    $('start').textContent = paused ? 'Resume' : 'Pause';
    if (!paused && !loop) {
      state.stage = 'training';
      loop = trainLoop().catch((e) => fail('training', e));
    }
  } catch (e) {
    fail('prepare', e);
  }
}

/** Loads a saved run (bytes of a .safetensors file): its config into the controls, then its state. */
async function loadBytes(bytes) {
  if (loop) throw new Error('stop: reload the page to load a run (one run per page)');
  const { tensors, metadata } = wg.decodeTensors(bytes);
  const config = metadata['wgrad.config'] ?? metadata.config; // the run format, or the first one
  if (!config) throw new Error('this file has no run config; it is not a wgrad-moco checkpoint');
  const saved = JSON.parse(config);
  const unsupported = [
    ['method', 'moco'],
    ['encoder', 'convnet'],
    ['mechanism', 'queue'],
    ['aug', 'v2'],
  ].filter(([k, v]) => (saved[k] ?? v) !== v);
  if (unsupported.length) {
    throw new Error(
      `this page trains MoCo with the ConvNet, the queue and v2 augmentation; the file was written with ${unsupported.map(([k]) => `${k} ${saved[k]}`).join(', ')}: use the CLI for it`,
    );
  }
  Object.assign(cfg, saved, { probeEpochs: 0 });
  showControls();
  await prepare({ tensors, metadata });
  setStatus(`loaded a run after epoch ${state.epoch}; Start continues it`);
}

function download() {
  const url = URL.createObjectURL(new Blob([state.saved], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: 'checkpoint.safetensors' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

$('start').addEventListener('click', toggle);
$('save').addEventListener('click', download);
$('load').addEventListener('change', async (ev) => {
  try {
    await loadBytes(new Uint8Array(await ev.target.files[0].arrayBuffer()));
  } catch (e) {
    fail('load', e);
  }
});
Object.assign(state, {
  stage: 'idle',
  cfg,
  loadBytes,
  /** Every query-encoder tensor's values, for the test to compare with the saved file. */
  parameters: async () =>
    Object.fromEntries(
      await Promise.all(Object.entries(run.model.encoderQ.stateDict()).map(async ([k, t]) => [k, Array.from(await t.toArray())])),
    ),
});
setStatus('idle: press Start');
if (params.get('autostart') === '1') toggle();
