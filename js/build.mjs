// Bundle js/src/widget.js (and regl-scatterplot) into one offline ESM file inside the Python package, and
// js/src/widget.css beside it (the Python side serves them as anywidget's _esm and _css); and the same bundle
// with the test hooks (src/test_hooks.js) as js/dist/widget.test.js, which is not shipped.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, '../modalchorus_widget/static');
const testBundle = resolve(here, 'dist/widget.test.js');
const common = { bundle: true, minify: true, legalComments: 'none', logLevel: 'warning' };

const esm = { ...common, entryPoints: [resolve(here, 'src/widget.js')], format: 'esm', target: ['es2020'], platform: 'browser' };
// the shipped bundle: no test hooks (src/test_hooks.js; esbuild drops their code)
await build({ ...esm, outfile: resolve(outdir, 'widget.js'), define: { __MC_TEST_HOOKS__: 'false' } });
// the browser tests' bundle, outside the package (tests/e2e/harness.py serves it through MODALCHORUS_WIDGET_ESM)
await build({ ...esm, outfile: testBundle, define: { __MC_TEST_HOOKS__: 'true' } });
await build({ ...common, entryPoints: [resolve(here, 'src/widget.css')], outfile: resolve(outdir, 'widget.css') });
console.log(`wrote ${outdir}/widget.js and widget.css, and the test bundle ${testBundle}`);
