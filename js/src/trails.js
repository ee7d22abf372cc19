// Trails of the last alignment round (pure): short segments from each moved point's old place to its new one,
// in NDC, for the points that moved most on the map; and their opacity as they fade.

/**
 * prev, next: { x, y } NDC arrays of the same points before and after (Float32Array each).
 * Returns { x0, y0, x1, y1, index, moved } of at most `max` segments, longest first (index: the point),
 * skipping moves shorter than `minLength` (NDC units) or than `relative` x the longest move (so the points
 * the round moved stand out from the many that shifted a little), each capped at `maxLength` (the trail
 * ends at the new place); moved: how many points passed the thresholds.
 */
export function trailSegments(prev, next, { max = 2000, minLength = 0.01, relative = 0.2, maxLength = 0.25 } = {}) {
  const n = Math.min(prev?.x?.length ?? 0, next?.x?.length ?? 0);
  const len = new Float32Array(n);
  let longest = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.hypot(next.x[i] - prev.x[i], next.y[i] - prev.y[i]);
    len[i] = Number.isFinite(d) ? d : 0;
    if (len[i] > longest) longest = len[i];
  }
  const threshold = Math.max(minLength, relative * longest);
  const moved = [];
  for (let i = 0; i < n; i++) if (len[i] >= threshold) moved.push(i);
  const count = moved.length;
  const order = moved.sort((a, b) => len[b] - len[a] || a - b).slice(0, max);
  const k = order.length;
  const out = { x0: new Float32Array(k), y0: new Float32Array(k), x1: new Float32Array(k), y1: new Float32Array(k), index: new Uint32Array(k), moved: count };
  order.forEach((i, j) => {
    const s = len[i] > maxLength ? maxLength / len[i] : 1;
    out.x1[j] = next.x[i];
    out.y1[j] = next.y[i];
    out.x0[j] = next.x[i] + (prev.x[i] - next.x[i]) * s;
    out.y0[j] = next.y[i] + (prev.y[i] - next.y[i]) * s;
    out.index[j] = i;
  });
  return out;
}

/** Opacity of trails `elapsed` ms after they were drawn: full for `hold` ms, then linear down to 0 at `total`. */
export function trailAlpha(elapsed, { hold = 1500, total = 6000 } = {}) {
  if (elapsed <= hold) return 1;
  if (elapsed >= total) return 0;
  return 1 - (elapsed - hold) / (total - hold);
}

/**
 * Trails of a round drawn before its new positions reach the view: `index` (Uint32Array, the points the kernel
 * found moving most), `oldXY` and `newXY` (interleaved data x, y of those points, Float32Array), placed in NDC
 * with the view's current data -> NDC `transform` ({ cx, cy, sx, sy }, layout.js fitToNdc). Same thresholds as
 * trailSegments (the kernel sends every point that can pass them); `index` of the result names the real points.
 */
export function trailSegmentsFromData(index, oldXY, newXY, transform, opts = {}) {
  const k = Math.min(index?.length ?? 0, (oldXY?.length ?? 0) >> 1, (newXY?.length ?? 0) >> 1);
  const prev = { x: new Float32Array(k), y: new Float32Array(k) };
  const next = { x: new Float32Array(k), y: new Float32Array(k) };
  const { cx, cy, sx, sy } = transform;
  for (let j = 0; j < k; j++) {
    prev.x[j] = (oldXY[2 * j] - cx) * sx;
    prev.y[j] = (oldXY[2 * j + 1] - cy) * sy;
    next.x[j] = (newXY[2 * j] - cx) * sx;
    next.y[j] = (newXY[2 * j + 1] - cy) * sy;
  }
  const seg = trailSegments(prev, next, opts);
  seg.index = seg.index.map((j) => index[j]);
  return seg;
}
