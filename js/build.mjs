// Bundle js/src/widget.js (and regl-scatterplot) into one offline ESM file inside the Python package.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(here, '../modalchorus_widget/static/widget.js');

await build({
  entryPoints: [resolve(here, 'src/widget.js')],
  outfile,
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['es2020'],
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`wrote ${outfile}`);
