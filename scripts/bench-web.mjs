// `npm run bench:web`: bundles the benchmark page (bench/web/page.ts with wgrad from src/,
// bench/workloads.ts and TensorFlow.js) with esbuild, in memory, and serves it from plain Node
// http on 127.0.0.1, so that a visitor times wgrad against tfjs-backend-webgpu on their own GPU.
//
//   node scripts/bench-web.mjs [--port 8001]
//
//   /             → bench/web/index.html
//   /page.js      the bundle
//   /kernels.js   every kernels/*.wgsl as a string (init() imports it next to the bundle, as from dist/)
import { createServer } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Node-only modules on wgrad's import paths (file reading, Dawn) stay unused in a browser: empty stand-ins. */
const nodeStubs = {
  name: 'node-stubs',
  setup(build) {
    build.onResolve({ filter: /^(node:.*|webgpu)$/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      contents:
        'module.exports = new Proxy({}, { get: (_, k) => k === "__esModule" ? false : () => { ' +
        `throw new Error('${a.path} is not available in a browser'); } });`,
      loader: 'js',
    }));
  },
};

/** The page's files: { 'page.js', 'kernels.js' } as strings. */
export async function buildBenchPage() {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [join(root, 'bench/web/page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outfile: 'page.js',
    plugins: [nodeStubs],
    logLevel: 'silent',
  });
  const names = readdirSync(join(root, 'kernels'))
    .filter((f) => f.endsWith('.wgsl'))
    .sort();
  const source = (f) => JSON.stringify(readFileSync(join(root, 'kernels', f), 'utf8'));
  const entries = names.map((f) => `  ${JSON.stringify(f.slice(0, -5))}: ${source(f)},`);
  const kernels = `export const kernels = {\n${entries.join('\n')}\n};\n`;
  return { 'page.js': out.outputFiles[0].text, 'kernels.js': kernels };
}

/**
 * Builds the page and starts the server; resolves with it once listening (port 0 = any free port).
 * @param {{ port?: number, log?: (line: string) => void }} opts
 */
export async function startBenchWebServer(opts = {}) {
  const files = await buildBenchPage();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const send = (status, type, body) => res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    if (path === '/' || path === '/index.html') return send(200, 'text/html', readFileSync(join(root, 'bench/web/index.html')));
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const name = path.slice(1);
    if (Object.hasOwn(files, name)) return send(200, 'text/javascript', files[name]);
    opts.log?.(`bench:web: not found: ${path}`);
    return send(404, 'text/plain', `not found: ${path}`);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8001, '127.0.0.1', resolve);
  });
  return server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const t0 = Date.now();
  const server = await startBenchWebServer({ port: i > 0 ? Number(process.argv[i + 1]) : 8001, log: console.error });
  const url = `http://127.0.0.1:${server.address().port}/`;
  const built = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`wgrad bench:web: ${url} (built in ${built} s; ${url}?size=small for the small sizes; Ctrl-C stops)`);
}
