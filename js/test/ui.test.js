import { describe, expect, it } from 'vitest';
import { encodeIndices } from '../src/buffers.js';
import { SET_PALETTE } from '../src/colors.js';
import { nearestPoint, ndcToScreen, screenToNdc } from '../src/layout.js';
import { axisTitles } from '../src/ui/axis_panel.js';
import { newSetName, setEntries } from '../src/ui/sets_panel.js';

describe('named sets', () => {
  it('decodes the trait into entries with colours by position', () => {
    const entries = setEntries({ ref: encodeIndices([5, 1]), dogs: encodeIndices([]) });
    expect(entries.map((e) => [e.name, e.color, Array.from(e.indices)])).toEqual([
      ['ref', SET_PALETTE[0], [1, 5]],
      ['dogs', SET_PALETTE[1], []],
    ]);
    expect(setEntries(null)).toEqual([]);
  });

  it('names a saved set by the typed name or the next number', () => {
    expect(newSetName('  my lasso ', 2)).toBe('my lasso');
    expect(newSetName('   ', 2)).toBe('set 3');
  });
});

describe('concept axis titles', () => {
  it('falls back to a / b and no y title', () => {
    expect(axisTitles({})).toEqual({ a: 'a', b: 'b', y: '' });
    expect(axisTitles({ a: 'a dog', b: 'a cat', y: 'dist' })).toEqual({ a: 'a dog', b: 'a cat', y: 'dist' });
  });
});

describe('screen <-> NDC', () => {
  it('screenToNdc inverts ndcToScreen under a zoomed and panned camera', () => {
    const view = [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0.3, -0.2, 0, 1];
    for (const [x, y] of [[0, 0], [0.25, -0.5], [-0.9, 0.8]]) {
      const [sx, sy] = ndcToScreen(view, 400, 300, x, y);
      const [bx, by] = screenToNdc(view, 400, 300, sx, sy);
      expect(bx).toBeCloseTo(x, 9);
      expect(by).toBeCloseTo(y, 9);
    }
  });

  it('finds the nearest point within a radius', () => {
    const xs = new Float32Array([0, 1, 0.5]), ys = new Float32Array([0, 1, 0.5]);
    expect(nearestPoint(xs, ys, 0.45, 0.5, 0.1)).toBe(2);
    expect(nearestPoint(xs, ys, 0.2, 0.8, 0.1)).toBe(-1);
  });
});
