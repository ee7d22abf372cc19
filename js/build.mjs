// Bundle js/src/widget.js (and regl-scatterplot) into one offline ESM file inside the Python package, and
// js/src/widget.css beside it (the Python side serves them as anywidget's _esm and _css).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, '../modalchorus_widget/static');
const common = { bundle: true, minify: true, legalComments: 'none', logLevel: 'warning' };

await build({
  ...common,
  entryPoints: [resolve(here, 'src/widget.js')],
  outfile: resolve(outdir, 'widget.js'),
  format: 'esm',
  target: ['es2020'],
  platform: 'browser',
});
await build({ ...common, entryPoints: [resolve(here, 'src/widget.css')], outfile: resolve(outdir, 'widget.css') });
console.log(`wrote ${outdir}/widget.js and widget.css`);
