// Trails drawn before a round's positions reach the view: the kernel's moved subset, placed with the view's
// current transform, gives the same segments as the full before/after arrays.
import { describe, expect, it } from 'vitest';
import { fitToNdc } from '../src/layout.js';
import { reframe, trailRule, trailSegments, trailSegmentsFromData } from '../src/trails.js';
import schema from './protocol.json';

const RULE = trailRule(schema.trails); // the one declaration (widget/protocol.py TRAILS)

describe('trailSegmentsFromData', () => {
  it('matches trailSegments over all points when the map keeps its bounds', () => {
    const n = 500;
    const old = new Float32Array(2 * n);
    for (let i = 0; i < 2 * n; i++) old[i] = Math.sin(i * 12.9898) * 10;
    old.set([-10, -10, 10, 10], 0); // corners that do not move: the same fit before and after
    const neu = old.slice();
    const moved = [7, 42, 100, 333];
    moved.forEach((i, j) => { neu[2 * i] *= 0.2 + 0.1 * j; neu[2 * i + 1] = -neu[2 * i + 1] * 0.5; });
    const fOld = fitToNdc(old);
    const fNew = fitToNdc(neu);
    const full = trailSegments(fOld, reframe(fNew, fNew.transform, fOld.transform), RULE);
    // what the kernel sends: the moved points (and some that barely moved), sorted by index
    const index = Uint32Array.from([3, 7, 42, 100, 333]);
    const pick = (a) => Float32Array.from(Array.from(index).flatMap((i) => [a[2 * i], a[2 * i + 1]]));
    // and what it computes over every point, in data units: the common drift and the median move
    const stats = { shift: [0, 0], spread: 0 };
    const early = trailSegmentsFromData(index, pick(old), pick(neu), fOld.transform, RULE, stats);
    expect(Array.from(early.index)).toEqual(Array.from(full.index));
    expect(early.index.length).toBeGreaterThan(1);
    for (const i of early.index) expect(moved).toContain(i);
    for (const key of ['x0', 'y0', 'x1', 'y1']) {
      early[key].forEach((v, j) => expect(v).toBeCloseTo(full[key][j], 5));
    }
  });
  it('draws nothing from an empty or short message', () => {
    const t = { cx: 0, cy: 0, sx: 1, sy: 1 };
    expect(trailSegmentsFromData(new Uint32Array(0), new Float32Array(0), new Float32Array(0), t, RULE).x0.length).toBe(0);
    expect(trailSegmentsFromData(Uint32Array.from([1, 2]), new Float32Array(2), new Float32Array(0), t, RULE).x0.length).toBe(0);
  });
});
