// The test hooks' one entry point (src/test_hooks.js) and its absence from the shipped bundle.
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_HOOKS, testHooks } from '../src/test_hooks.js';

describe('test hooks', () => {
  afterEach(() => {
    delete globalThis.__modalchorus;
    delete globalThis.__MODALCHORUS_NO_WEBGL__;
  });

  it('are no-ops when off', () => {
    const root = { dataset: {} };
    const hooks = testHooks(false);
    expect(hooks.enabled).toBe(false);
    hooks.stamp(root, 'firstFrameMs');
    hooks.probe(root).stamp('x');
    hooks.register(root, { root })();
    globalThis.__MODALCHORUS_NO_WEBGL__ = true;
    expect(hooks.noWebGL()).toBe(false);
    expect(root.dataset).toEqual({});
    expect(globalThis.__modalchorus).toBeUndefined();
  });

  it('stamp times and keep a registry when on (vitest runs the sources with them on)', () => {
    expect(TEST_HOOKS).toBe(true);
    const hooks = testHooks();
    const root = { dataset: {} };
    hooks.stamp(root, 'mouseUpMs', 1234);
    hooks.probe(root).stamp('ackMs', 5);
    expect(root.dataset).toEqual({ mouseUpMs: '1234', ackMs: '5' });
    const entry = { root };
    const unregister = hooks.register(root, entry);
    expect(globalThis.__modalchorus).toEqual([entry]);
    expect(root.__modalchorus).toBe(entry);
    unregister();
    expect(globalThis.__modalchorus).toEqual([]);
  });

  it('are not in the shipped bundle, and are in the test bundle', async () => {
    const entry = resolve(dirname(fileURLToPath(import.meta.url)), '../src/widget.js');
    const bundle = async (on) => {
      const out = await build({
        entryPoints: [entry], bundle: true, minify: true, write: false, format: 'esm', platform: 'browser',
        logLevel: 'silent', define: { __MC_TEST_HOOKS__: String(on) },
      });
      return out.outputFiles[0].text;
    };
    const [shipped, test] = await Promise.all([bundle(false), bundle(true)]);
    for (const marker of ['__modalchorus', '__MODALCHORUS_NO_WEBGL__', 'lastDrawResolvedMs', 'trailsDrawn', 'lastMouseUpMs']) {
      expect(shipped, marker).not.toContain(marker);
      expect(test, marker).toContain(marker);
    }
  }, 60_000);
});
