// Pure helpers of the round report, trails, label placement and Python lines.
import { describe, expect, it } from 'vitest';
import { placeLabels } from '../src/label_placement.js';
import { indexExpr, pythonLine, shortLine } from '../src/python_line.js';
import { binValues, fractions, histogramBars, pairedBars, pct } from '../src/round_figures.js';
import { fitToNdc } from '../src/layout.js';
import { alphaNote } from '../src/ui/report_panel.js';
import { median, reframe, trailAlpha, trailRule, trailSegments } from '../src/trails.js';
import schema from './protocol.json';

const RULE = trailRule(schema.trails); // the one declaration (widget/protocol.py TRAILS)

const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('placeLabels', () => {
  it('places labels of far-apart points to the right of them', () => {
    const placed = placeLabels([{ index: 0, x: 10, y: 50, w: 40, h: 12 }, { index: 1, x: 100, y: 50, w: 40, h: 12 }], { width: 200, height: 100, gap: 4 });
    expect(placed.map((b) => [b.index, b.x, b.y])).toEqual([[0, 14, 44], [1, 104, 44]]);
  });
  it('never overlaps two labels, and hides what cannot be placed', () => {
    const labels = Array.from({ length: 30 }, (_, i) => ({ index: i, x: 50 + (i % 3), y: 50, w: 60, h: 12 }));
    const placed = placeLabels(labels, { width: 200, height: 100 });
    expect(placed.length).toBeGreaterThan(2);
    expect(placed.length).toBeLessThan(30);
    for (let i = 0; i < placed.length; i++) for (let j = i + 1; j < placed.length; j++) expect(overlap(placed[i], placed[j])).toBe(false);
    for (const b of placed) expect(b.x >= 0 && b.y >= 0 && b.x + b.w <= 200 && b.y + b.h <= 100).toBe(true);
  });
  it('places the hovered label first, and tries the left side at the right edge', () => {
    const labels = [{ index: 0, x: 50, y: 50, w: 40, h: 12 }, { index: 1, x: 52, y: 50, w: 40, h: 12 }];
    expect(placeLabels(labels, { width: 200, height: 100, priority: 1 })[0]).toMatchObject({ index: 1, x: 58 });
    const edge = placeLabels([{ index: 0, x: 190, y: 50, w: 40, h: 12 }], { width: 200, height: 100, gap: 4 });
    expect(edge[0].x).toBe(190 - 4 - 40);
  });
  it('skips points outside the view', () => {
    expect(placeLabels([{ index: 0, x: -5, y: 50, w: 10, h: 10 }], { width: 100, height: 100 })).toEqual([]);
  });
});

describe('trailSegments', () => {
  // four points of interest among 16 that stay where they were
  const still = new Array(16).fill(0);
  const prev = { x: Float32Array.from([0, 0, 0, 0.5, ...still]), y: Float32Array.from([0, 0, 0, 0, ...still]) };
  const next = { x: Float32Array.from([0.1, 0.001, 0.5, 0.5, ...still]), y: Float32Array.from([0, 0, 0, 0.02, ...still]) };
  it('keeps points that moved, longest first, ending at the new place', () => {
    const t = trailSegments(prev, next, { ...RULE, minLength: 0.01, relative: 0 });
    expect(Array.from(t.index)).toEqual([2, 0, 3]);
    expect(t.x1[0]).toBeCloseTo(0.5);
    expect(t.x0[0]).toBeCloseTo(0.25); // capped at maxLength 0.25 from the new place
    expect(t.x0[1]).toBeCloseTo(0);
    expect(t.moved).toBe(3);
  });
  it('drops moves much shorter than the longest, and caps the count', () => {
    expect(Array.from(trailSegments(prev, next, { ...RULE, relative: 0.2 }).index)).toEqual([2, 0]);
    expect(Array.from(trailSegments(prev, next, { ...RULE, max: 1, relative: 0 }).index)).toEqual([2]);
  });
  it('gives nothing without a previous layout', () => {
    expect(trailSegments(null, next, RULE).x0.length).toBe(0);
  });
  it('draws no trails for a map that slid or jittered as a whole, only for the points moved apart from it', () => {
    const n = 1000;
    const a = { x: new Float32Array(n), y: new Float32Array(n) };
    const b = { x: new Float32Array(n), y: new Float32Array(n) };
    for (let i = 0; i < n; i++) {
      a.x[i] = Math.sin(i * 12.9898);
      a.y[i] = Math.cos(i * 78.233);
      b.x[i] = a.x[i] + 0.05 + 0.02 * Math.sin(i * 3.7); // the whole map slides 0.05, each point jitters 0.02
      b.y[i] = a.y[i] + 0.02 * Math.cos(i * 5.3);
    }
    expect(trailSegments(a, b, RULE).x0.length).toBe(0);
    const apart = [5, 500, 900];
    for (const i of apart) b.y[i] += 0.2;
    const t = trailSegments(a, b, RULE);
    expect(Array.from(t.index).sort((p, q) => p - q)).toEqual(apart);
    expect(t.x1[0] - t.x0[0]).toBeGreaterThan(0.02); // drawn as the real move, drift included
  });
  it('re-places an old layout in the frame drawn now, so a re-fit of the view alone moves nothing', () => {
    const xy = Float32Array.from([0, 0, 1, 2, -3, 4, 2, -1]);
    const before = fitToNdc(xy);
    const after = fitToNdc(Float32Array.from([...xy, 10, 10]).slice(0, 8).map((v, i) => (i === 0 ? -6 : v)));
    const moved = reframe(before, before.transform, after.transform);
    for (let i = 1; i < 4; i++) {
      expect(moved.x[i]).toBeCloseTo(after.x[i], 5);
      expect(moved.y[i]).toBeCloseTo(after.y[i], 5);
    }
    expect(Array.from(trailSegments(moved, after, { ...RULE, relative: 0, typical: 0 }).index)).toEqual([0]);
  });
  it('takes medians of odd, even, empty and long arrays', () => {
    expect(median(Float32Array.from([3, 1, 2]))).toBe(2);
    expect(median(Float32Array.from([4, 1, 2, 3]))).toBe(2.5);
    expect(median(new Float32Array(0))).toBe(0);
    expect(median(Float32Array.from({ length: 300001 }, (_, i) => i % 7))).toBe(3);
  });
  it('fades: full, then linear, then gone', () => {
    expect(trailAlpha(0)).toBe(1);
    expect(trailAlpha(3750, { hold: 1500, total: 6000 })).toBeCloseTo(0.5);
    expect(trailAlpha(7000)).toBe(0);
  });
});

describe('round figures', () => {
  it('bins values on edges, the last bin closed', () => {
    expect(binValues([0, 0.1, 0.25, 0.5, 1, 1.5, -1], [0, 0.25, 0.5, 0.75, 1])).toEqual([2, 1, 1, 1]);
    expect(binValues([1], [0])).toEqual([]);
  });
  it('histogram bars compare groups as fractions, tallest bar full height', () => {
    expect(fractions([1, 3])).toEqual([0.25, 0.75]);
    const bars = histogramBars([[0, 2], [10, 10]], 100, 50);
    expect(bars.length).toBe(4);
    const sel = bars.filter((b) => b.group === 0);
    expect(sel[1].h).toBeCloseTo(50);
    expect(bars.find((b) => b.group === 1 && b.bin === 0).h).toBeCloseTo(25);
  });
  it('paired bars scale to the width and say which way they moved', () => {
    const [a, b] = pairedBars(['x', 'y'], [0.5, 1], [0.75, 0.9], 200);
    expect([a.wBefore, a.wAfter, a.delta > 0]).toEqual([100, 150, true]);
    expect(b.delta).toBeLessThan(0);
    expect(pct(0.98356)).toBe('98.4%');
    expect(pct(1)).toBe('100%');
  });
});

describe('pythonLine', () => {
  it('writes index sets compactly', () => {
    expect(indexExpr([3, 4, 5, 6, 9, 20, 21, 22])).toBe('np.r_[3:7, 9, 20:23]');
    expect(indexExpr([1, 2, 7])).toBe('np.array([1, 2, 7])');
    expect(indexExpr([])).toBe('np.array([], dtype=np.uint32)');
  });
  it('gives the cell of each UI action', () => {
    expect(pythonLine({ kind: 'select', indices: [1, 2, 3] })).toBe('w.selected = np.r_[1:4]');
    expect(pythonLine({ kind: 'save_set', name: 'my "set"', indices: [5] })).toBe('w.sets["my \\"set\\""] = np.array([5])');
    expect(pythonLine({ kind: 'delete_set', name: 'a' })).toBe('del w.sets["a"]');
    expect(pythonLine({ kind: 'method', method: 'MFM' })).toBe('w.set_method("MFM")');
    expect(pythonLine({ kind: 'concept_axis', a: 'dog', b: 'cat' })).toBe('w.concept_axis("dog", "cat")');
    expect(pythonLine({ kind: 'goto', k: 2 })).toBe('w.goto(2)');
    expect(pythonLine({ kind: 'undo' })).toBe('w.undo()');
    expect(pythonLine({ kind: 'search', query: 'a cat' })).toBe('w.search("a cat")');
    expect(pythonLine({ kind: 'style', trait: 'point_size', value: 4.5 })).toBe('w.point_size = 4.5');
    expect(pythonLine({ kind: 'nothing' })).toBe('');
    expect(shortLine('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}\u2026`);
  });
});

describe('alphaNote', () => {
  it('says how the guard chose alpha, and nothing it was not told', () => {
    expect(alphaNote({ tolerance: 0.01, pick: 'best_target' })).toMatch(/the most constraints satisfied with no regression over 1(\.0)?%/);
    expect(alphaNote({ tolerance: 0.02, pick: 'largest' })).toMatch(/the largest with no regression over 2(\.0)?%/);
    expect(alphaNote({ tolerance: 0.01 })).not.toMatch(/\u03b1:/);
    expect(alphaNote({ tolerance: 0.01 })).toMatch(/^solid: constraints satisfied; dashed: worst regression outside/);
  });
});
