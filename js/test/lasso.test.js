import { describe, expect, it } from 'vitest';
import { combineSelection, countByCode, indicesInPolygon, modeFromEvent, pointInPolygon } from '../src/lasso.js';

const square = [0, 0, 2, 0, 2, 2, 0, 2];

describe('lasso', () => {
  it('point in polygon (even-odd)', () => {
    expect(pointInPolygon(1, 1, square)).toBe(true);
    expect(pointInPolygon(3, 1, square)).toBe(false);
    // concave "U": the notch is outside
    const u = [0, 0, 3, 0, 3, 3, 2, 3, 2, 1, 1, 1, 1, 3, 0, 3];
    expect(pointInPolygon(1.5, 2, u)).toBe(false);
    expect(pointInPolygon(0.5, 2, u)).toBe(true);
  });

  it('indices in polygon are exactly the inside points, sorted', () => {
    const xs = new Float32Array([1, 5, 0.5, -1, 1.9]);
    const ys = new Float32Array([1, 1, 1.5, 0, 0.1]);
    expect(Array.from(indicesInPolygon(xs, ys, square))).toEqual([0, 2, 4]);
    expect(indicesInPolygon(xs, ys, [0, 0, 1, 1]).length).toBe(0);
  });

  it('matches a brute-force check on random points', () => {
    const n = 2000;
    const xs = new Float32Array(n), ys = new Float32Array(n);
    let s = 1;
    const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 4 - 1;
    for (let i = 0; i < n; i++) { xs[i] = rnd(); ys[i] = rnd(); }
    const tri = [0, 0, 2, 0, 1, 2];
    const brute = [];
    for (let i = 0; i < n; i++) {
      const x = xs[i], y = ys[i];
      // inside the triangle (0,0),(2,0),(1,2)
      if (y > 0 && y < 2 * x && y < 4 - 2 * x) brute.push(i);
    }
    expect(Array.from(indicesInPolygon(xs, ys, tri))).toEqual(brute);
  });

  it('combines selections: add, subtract, intersect, replace', () => {
    const a = new Uint32Array([1, 3, 5]);
    const b = new Uint32Array([3, 4]);
    expect(Array.from(combineSelection(a, b, 'add'))).toEqual([1, 3, 4, 5]);
    expect(Array.from(combineSelection(a, b, 'subtract'))).toEqual([1, 5]);
    expect(Array.from(combineSelection(a, b, 'intersect'))).toEqual([3]);
    expect(Array.from(combineSelection(a, b, 'replace'))).toEqual([3, 4]);
  });

  it('modifier keys pick the mode; counts per modality', () => {
    expect(modeFromEvent({ shiftKey: true })).toBe('add');
    expect(modeFromEvent({ altKey: true, shiftKey: true })).toBe('subtract');
    expect(modeFromEvent({})).toBe('replace');
    expect(countByCode([0, 2, 3], new Uint8Array([0, 1, 1, 0]), 2)).toEqual([2, 1]);
  });
});
