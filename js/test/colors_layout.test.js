import { describe, expect, it } from 'vitest';
import { categoryColor, categoryColors, hexToRgba, luminance, PALETTE, setColor, themeColors } from '../src/colors.js';
import { dataToNdc, fitToNdc, ndcToScreen, niceTicks } from '../src/layout.js';
import { legendEntries } from '../src/legend.js';

describe('colours', () => {
  it('maps codes to distinct palette colours and beyond', () => {
    expect(categoryColors(3)).toEqual(PALETTE.slice(0, 3));
    const many = categoryColors(60);
    expect(new Set(many).size).toBeGreaterThan(50);
    for (const c of many) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(categoryColor(0)).not.toBe(setColor(0));
  });

  it('parses hex colours', () => {
    expect(hexToRgba('#ff0000')).toEqual([1, 0, 0, 1]);
    expect(hexToRgba('#0f0', 0.5)).toEqual([0, 1, 0, 0.5]);
    expect(() => hexToRgba('#zzzzzz')).toThrow();
  });

  it('tells dark from light backgrounds', () => {
    expect(luminance('rgb(17, 17, 17)')).toBeLessThan(0.1);
    expect(luminance('#ffffff')).toBeCloseTo(1);
    expect(luminance('rgba(0, 0, 0, 0)')).toBe(1);
    expect(themeColors(true).background).not.toBe(themeColors(false).background);
  });
});

describe('layout', () => {
  it('fits into [-1, 1] keeping the aspect ratio', () => {
    const xy = new Float32Array([0, 0, 10, 0, 10, 5, 0, 5]);
    const { x, y, transform } = fitToNdc(xy, { padding: 0 });
    expect(Math.min(...x)).toBeCloseTo(-1);
    expect(Math.max(...x)).toBeCloseTo(1);
    expect(Math.max(...y)).toBeCloseTo(0.5);
    expect(dataToNdc(transform, 10, 5)).toEqual([expect.closeTo(1), expect.closeTo(0.5)]);
  });

  it('stretches each axis when asked (concept axis)', () => {
    const xy = new Float32Array([0, 0, 10, 0, 10, 5, 0, 5]);
    const { y } = fitToNdc(xy, { padding: 0, keepAspect: false });
    expect(Math.max(...y)).toBeCloseTo(1);
  });

  it('handles degenerate layouts', () => {
    const { x, y } = fitToNdc(new Float32Array([3, 3, 3, 3]));
    expect(Array.from(x)).toEqual([0, 0]);
    expect(Array.from(y)).toEqual([0, 0]);
  });

  it('maps NDC to screen like regl-scatterplot with an identity camera', () => {
    const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    expect(ndcToScreen(I, 100, 100, 0, 0)).toEqual([50, 50]);
    expect(ndcToScreen(I, 100, 100, 1, 1)).toEqual([100, 0]);
    // wide canvas: x is divided by the aspect ratio
    expect(ndcToScreen(I, 200, 100, 1, 0)).toEqual([150, 50]);
  });

  it('makes nice ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.33, 0.31, 4)).toEqual([-0.2, 0, 0.2]);
    expect(niceTicks(-0.3, 0.3, 6)).toContain(0);
  });
});

describe('legend', () => {
  it('counts codes, sorts by count and caps', () => {
    const { entries, hidden, hiddenCount } = legendEntries(['a', 'b', 'c'], new Uint8Array([2, 2, 0, 2, 1]), { max: 2 });
    expect(entries.map((e) => [e.name, e.count])).toEqual([['c', 3], ['a', 1]]);
    expect(hidden).toBe(1);
    expect(hiddenCount).toBe(1);
  });
});
