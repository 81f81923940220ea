// Builds the app into a folder, as `npm run build` builds an exported template's `dist/`:
//   node tests/frontend/build.mjs OUT_DIR APP_ID
// OUT_DIR gets index.html and assets/main.js, assets/main.css. esbuild and @base44/sdk come
// from tests/sdk/node_modules (`npm ci --prefix tests/sdk`).
import { createRequire } from 'node:module';
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, '..', 'sdk', 'node_modules');
const require = createRequire(path.join(here, '..', 'sdk', 'package.json'));
const esbuild = require('esbuild');

const [outDir, appId] = process.argv.slice(2);
if (!outDir || !appId) {
  console.error('usage: node build.mjs OUT_DIR APP_ID');
  process.exit(2);
}
await mkdir(path.join(outDir, 'assets'), { recursive: true });
const result = await esbuild.build({
  entryPoints: { main: path.join(here, 'src', 'main.js') },
  outdir: path.join(outDir, 'assets'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  nodePaths: [nodeModules],
  define: {
    'import.meta.env.VITE_BASE44_APP_ID': JSON.stringify(appId),
    'process.env.NODE_ENV': '"production"',
  },
  logLevel: 'warning',
  metafile: true,
});
await copyFile(path.join(here, 'index.html'), path.join(outDir, 'index.html'));
const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
console.log(JSON.stringify({ outputs: outputs.sort() }));
