// Trails of the last alignment round (pure): short segments from each moved point's old place to its new one,
// in NDC, for the points that moved most on the map; and their opacity as they fade.

/** The trail rule as declared once in Python (protocol.py TRAILS, the `trails` of the widget's `_protocol`
 * trait) -> the options of trailSegments. Throws when a field is missing: there are no defaults here. */
export function trailRule(trails) {
  const rule = { max: trails?.max, minLength: trails?.min_length, relative: trails?.relative, typical: trails?.typical, maxLength: trails?.max_length };
  const missing = Object.entries(rule).filter(([, v]) => !Number.isFinite(v)).map(([k]) => k);
  if (missing.length) throw new Error(`trails: the protocol's trail rule lacks ${missing.join(', ')}`);
  return rule;
}

/**
 * prev, next: { x, y } NDC arrays of the same points before and after (Float32Array each), in one frame.
 * Returns { x0, y0, x1, y1, index, moved } of at most `max` segments, largest move first (index: the point).
 * A point's move is judged after taking out the round's common drift (the median move, or `shift` [dx, dy]
 * when given), so a map that slid or jittered as a whole draws no trails while the points the round moved
 * apart from the rest do: it is kept when that move is at least `minLength` (NDC units), `relative` x the
 * largest and `typical` x the median one (`spread` when given). Segments run from the old place to the new
 * one, each capped at `maxLength` (the trail ends at the new place); moved: how many points passed.
 * max, minLength, relative, typical, maxLength: the protocol's rule (trailRule).
 */
export function trailSegments(prev, next, { max, minLength, relative, typical, maxLength, shift, spread }) {
  const n = Math.min(prev?.x?.length ?? 0, next?.x?.length ?? 0);
  const dx = new Float32Array(n), dy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = next.x[i] - prev.x[i], b = next.y[i] - prev.y[i];
    const ok = Number.isFinite(a) && Number.isFinite(b);
    dx[i] = ok ? a : 0;
    dy[i] = ok ? b : 0;
  }
  const [sx, sy] = shift ?? [median(dx), median(dy)];
  const len = new Float32Array(n);
  let longest = 0;
  for (let i = 0; i < n; i++) {
    len[i] = Math.hypot(dx[i] - sx, dy[i] - sy);
    if (len[i] > longest) longest = len[i];
  }
  const threshold = Math.max(minLength, relative * longest, typical * (spread ?? median(len)));
  const moved = [];
  for (let i = 0; i < n; i++) if (len[i] >= threshold && len[i] > 0) moved.push(i);
  const count = moved.length;
  const order = moved.sort((a, b) => len[b] - len[a] || a - b).slice(0, max);
  const k = order.length;
  const out = { x0: new Float32Array(k), y0: new Float32Array(k), x1: new Float32Array(k), y1: new Float32Array(k), index: new Uint32Array(k), moved: count };
  order.forEach((i, j) => {
    const d = Math.hypot(dx[i], dy[i]);
    const s = d > maxLength ? maxLength / d : 1;
    out.x1[j] = next.x[i];
    out.y1[j] = next.y[i];
    out.x0[j] = next.x[i] - dx[i] * s;
    out.y0[j] = next.y[i] - dy[i] * s;
    out.index[j] = i;
  });
  return out;
}

/** Median of a Float32Array (0 when empty); over an even stride of at most 100,000 values for big arrays. */
export function median(values) {
  const n = values.length;
  if (!n) return 0;
  const step = Math.ceil(n / 100000);
  const v = step === 1 ? Float32Array.from(values) : Float32Array.from({ length: Math.ceil(n / step) }, (_, j) => values[j * step]);
  v.sort();
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

/** `prev` NDC points placed with `before` (a fitToNdc transform), re-placed with `after`: where they were
 * in the data, in the frame drawn now (so a re-fit of the view alone moves nothing). */
export function reframe(prev, before, after) {
  const n = prev.x.length;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = (prev.x[i] / before.sx + before.cx - after.cx) * after.sx;
    y[i] = (prev.y[i] / before.sy + before.cy - after.cy) * after.sy;
  }
  return { x, y };
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
 * trailSegments (the kernel sends every point that can pass them, and `stats`: the common drift `shift` and the
 * median move `spread` over all points, in data units); `index` of the result names the real points.
 */
export function trailSegmentsFromData(index, oldXY, newXY, transform, opts, stats = null) {
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
  if (stats?.shift && Number.isFinite(stats.spread)) {
    opts = { ...opts, shift: [stats.shift[0] * sx, stats.shift[1] * sy], spread: stats.spread * Math.sqrt(Math.abs(sx * sy)) };
  }
  const seg = trailSegments(prev, next, opts);
  seg.index = seg.index.map((j) => index[j]);
  return seg;
}
