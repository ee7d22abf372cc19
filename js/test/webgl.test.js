// WebGL detection: the widget shows its message instead of a blank canvas when no context can be made.
import { afterEach, describe, expect, it } from 'vitest';
import { webglAvailable } from '../src/view.js';

const canvas = (contexts) => () => ({ getContext: (kind) => (kind in contexts ? contexts[kind] : null) });

describe('webglAvailable', () => {
  afterEach(() => { delete globalThis.__MODALCHORUS_NO_WEBGL__; });
  it('is true when WebGL 2 or WebGL 1 gives a context', () => {
    expect(webglAvailable(canvas({ webgl2: {} }))).toBe(true);
    expect(webglAvailable(canvas({ webgl: {} }))).toBe(true);
  });
  it('is false when the browser gives no context (WebGL disabled or blocked)', () => {
    expect(webglAvailable(canvas({}))).toBe(false);
  });
  it('is false when making the context throws', () => {
    expect(webglAvailable(() => ({ getContext: () => { throw new Error('blocked'); } }))).toBe(false);
    expect(webglAvailable(() => { throw new Error('no canvas'); })).toBe(false);
  });
  it('is false under the test hook, whatever the canvas', () => {
    globalThis.__MODALCHORUS_NO_WEBGL__ = true;
    expect(webglAvailable(canvas({ webgl2: {} }))).toBe(false);
  });
});
