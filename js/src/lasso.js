// Lasso geometry and selection arithmetic (pure; regl-scatterplot draws the lasso itself).

/** Even-odd rule: is (x, y) inside the polygon given as flat [x0, y0, x1, y1, ...]? */
export function pointInPolygon(x, y, poly) {
  let inside = false;
  const m = poly.length >> 1;
  for (let i = 0, j = m - 1; i < m; j = i++) {
    const xi = poly[2 * i], yi = poly[2 * i + 1];
    const xj = poly[2 * j], yj = poly[2 * j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Sorted Uint32Array of the points (columns xs, ys) inside the polygon; bounding-box prefilter. */
export function indicesInPolygon(xs, ys, poly) {
  if (poly.length < 6) return new Uint32Array(0);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < poly.length; i += 2) {
    x0 = Math.min(x0, poly[i]); x1 = Math.max(x1, poly[i]);
    y0 = Math.min(y0, poly[i + 1]); y1 = Math.max(y1, poly[i + 1]);
  }
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (pointInPolygon(x, y, poly)) out.push(i);
  }
  return Uint32Array.from(out);
}

/** Combine a sorted selection with new sorted indices: 'replace' | 'add' | 'subtract' | 'intersect'. */
export function combineSelection(current, incoming, mode = 'replace') {
  if (mode === 'replace') return Uint32Array.from(incoming);
  const out = [];
  let i = 0, j = 0;
  const a = current, b = incoming;
  while (i < a.length || j < b.length) {
    const av = i < a.length ? a[i] : Infinity;
    const bv = j < b.length ? b[j] : Infinity;
    if (av === bv) {
      if (mode === 'add' || mode === 'intersect') out.push(av);
      i++; j++;
    } else if (av < bv) {
      if (mode === 'add' || mode === 'subtract') out.push(av);
      i++;
    } else {
      if (mode === 'add') out.push(bv);
      j++;
    }
  }
  return Uint32Array.from(out);
}

/** Selection mode from a pointer/keyboard event: shift adds, alt subtracts. */
export function modeFromEvent(ev) {
  if (ev?.altKey) return 'subtract';
  if (ev?.shiftKey) return 'add';
  return 'replace';
}

/** Counts of selected points per modality code. */
export function countByCode(indices, codes, nCodes) {
  const counts = new Array(nCodes).fill(0);
  for (let k = 0; k < indices.length; k++) counts[codes[indices[k]]] += 1;
  return counts;
}
