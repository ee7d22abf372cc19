// Point layout helpers: data -> normalised device coordinates, screen mapping, axis ticks.

/**
 * Fit interleaved float32 positions into [-1, 1] (NDC) with padding.
 * keepAspect: one scale for both axes (projections); false: each axis stretched (concept axis).
 * Returns { x, y, transform: { cx, cy, sx, sy } } with ndc = (v - c) * s.
 */
export function fitToNdc(xy, { padding = 0.06, keepAspect = true } = {}) {
  const n = xy.length >> 1;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const a = xy[2 * i], b = xy[2 * i + 1];
    if (a < x0) x0 = a; if (a > x1) x1 = a;
    if (b < y0) y0 = b; if (b > y1) y1 = b;
  }
  if (n === 0) { x0 = y0 = -1; x1 = y1 = 1; }
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const hx = Math.max((x1 - x0) / 2, 1e-12), hy = Math.max((y1 - y0) / 2, 1e-12);
  const k = 1 - padding;
  let sx = k / hx, sy = k / hy;
  if (keepAspect) sx = sy = Math.min(sx, sy);
  if (x1 - x0 < 1e-12) sx = keepAspect ? sy : 1;
  if (y1 - y0 < 1e-12) sy = keepAspect ? sx : 1;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = (xy[2 * i] - cx) * sx;
    y[i] = (xy[2 * i + 1] - cy) * sy;
  }
  return { x, y, transform: { cx, cy, sx, sy } };
}

/** Data value -> NDC using a fitToNdc transform (for axis ticks and labels). */
export function dataToNdc(t, vx, vy) {
  return [(vx - t.cx) * t.sx, (vy - t.cy) * t.sy];
}

/**
 * NDC point -> canvas pixels with regl-scatterplot's camera: clip = P * V * [x, y, 0, 1],
 * P = scale(1 / aspect), V column-major 4x4 (camera.view). Matches scatterplot.getScreenPosition.
 */
export function ndcToScreen(view, width, height, x, y) {
  const aspect = width / height;
  const cx = (view[0] * x + view[4] * y + view[12]) / aspect;
  const cy = view[1] * x + view[5] * y + view[13];
  return [(width * (cx + 1)) / 2, height * (0.5 - cy / 2)];
}

/** Inverse of ndcToScreen: canvas pixels -> point (NDC) coordinates under the camera `view`. */
export function screenToNdc(view, width, height, sx, sy) {
  const aspect = width / height;
  const cx = ((2 * sx) / width - 1) * aspect - view[12];
  const cy = 1 - (2 * sy) / height - view[13];
  const a = view[0], b = view[4], c = view[1], d = view[5];
  const det = a * d - b * c;
  return [(d * cx - b * cy) / det, (a * cy - c * cx) / det];
}

/** Index of the point nearest to (x, y) within `radius` (NDC units), or -1. Linear scan. */
export function nearestPoint(xs, ys, x, y, radius) {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < xs.length; i++) {
    const dx = xs[i] - x, dy = ys[i] - y;
    const d = dx * dx + dy * dy;
    if (d <= bestD) { bestD = d; best = i; }
  }
  return best;
}

/** A handful of evenly spaced "nice" tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const err = step0 / mag;
  const step = mag * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(12));
  return ticks;
}
