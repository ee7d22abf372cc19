// The one entry point of the widget's test hooks (browser tests and the widget benchmark read the widget's state
// through them). They exist only in the test bundle: js/build.mjs builds js/dist/widget.test.js with
// __MC_TEST_HOOKS__ = true and the shipped modalchorus_widget/static/widget.js with false, so the shipped bundle
// carries none of this code (esbuild drops it). The Python side serves the test bundle when the kernel's
// environment names it: MODALCHORUS_WIDGET_ESM=<path to widget.test.js> (tests/e2e/harness.py sets it).
// With the hooks on, every rendered widget
//   - registers { root, model, ctrl, proj, axis } in globalThis.__modalchorus (and on root.__modalchorus);
//   - stamps timings on its root's dataset (renderStartMs, firstFrameMs, positionsMs, trailsMs, ...; epoch ms);
//   - lets its views keep timing fields (view.transitions, lastDrawResolvedMs, trailsDrawn, labelsDrawn);
//   - draws without WebGL when globalThis.__MODALCHORUS_NO_WEBGL__ is true.
/* global __MC_TEST_HOOKS__ */

/** Whether this bundle has the test hooks (a constant the bundler fixes; true under vitest). */
export const TEST_HOOKS = typeof __MC_TEST_HOOKS__ === 'undefined' ? true : __MC_TEST_HOOKS__;

const OFF = Object.freeze({
  enabled: false,
  stamp() {},
  register: () => () => {},
  probe: () => OFF_PROBE,
  noWebGL: () => false,
});
const OFF_PROBE = Object.freeze({ enabled: false, stamp() {} });

/** The hooks: no-ops unless this is the test bundle (or `enabled` says otherwise, for unit tests). */
export function testHooks(enabled = TEST_HOOKS) {
  if (!TEST_HOOKS || !enabled) return OFF;
  const stamp = (root, key, ms = Date.now()) => {
    root.dataset[key] = String(ms);
  };
  return {
    enabled: true,
    /** root.dataset[key] = ms (epoch milliseconds, default now). */
    stamp,
    /** Adds `entry` to globalThis.__modalchorus (and root.__modalchorus); returns its removal. */
    register(root, entry) {
      const registry = (globalThis.__modalchorus = globalThis.__modalchorus || []);
      registry.push(entry);
      root.__modalchorus = entry;
      return () => {
        const i = registry.indexOf(entry);
        if (i >= 0) registry.splice(i, 1);
      };
    },
    /** The stamp of one root, for modules that only stamp ({ enabled, stamp(key, ms) }). */
    probe: (root) => ({ enabled: true, stamp: (key, ms) => stamp(root, key, ms) }),
    /** Whether a test asked for the no-WebGL path. */
    noWebGL: () => globalThis.__MODALCHORUS_NO_WEBGL__ === true,
  };
}
