import { describe, expect, it } from 'vitest';
import { fitToNdc, ndcToScreen } from '../src/layout.js';
import { densityPixels, polygonToData } from '../src/ui/density.js';

describe('density layer', () => {
  it('flips the texture (row 0 = bottom) and scales alpha with the value', () => {
    const px = densityPixels(Uint8Array.from([0, 255, 51, 0]), 2, 2, [1, 2, 3], 100);
    // top row of the image = last texture row [51, 0]; bottom row = [0, 255]
    expect(Array.from(px.slice(0, 4))).toEqual([1, 2, 3, 20]);
    expect(px[7]).toBe(0);
    expect(px[11]).toBe(0);
    expect(px[15]).toBe(100);
  });

  it('maps a lasso drawn in pixels back to data coordinates', () => {
    const xy = Float32Array.from([-3, 1, 5, 9, 1, 4]);
    const { transform } = fitToNdc(xy);
    const camera = [1.3, 0, 0, 0, 0, 1.3, 0, 0, 0, 0, 1, 0, 0.1, -0.2, 0, 1];
    const poly = [[-3, 1], [5, 9], [1, 4]].map(([x, y]) =>
      ndcToScreen(camera, 400, 300, (x - transform.cx) * transform.sx, (y - transform.cy) * transform.sy));
    const back = polygonToData(poly, camera, 400, 300, transform);
    [-3, 1, 5, 9, 1, 4].forEach((v, i) => expect(back[i]).toBeCloseTo(v, 4));
  });
});
