// Geometry of the round report's pictures (pure): paired before/after bars and the moved-distance histogram.

/** Values in [0, 1] as bars: [{ label, before, after, x, wBefore, wAfter, delta }] with widths in px. */
export function pairedBars(labels, before, after, width) {
  return labels.map((label, k) => {
    const b = clamp01(before[k]);
    const a = clamp01(after[k]);
    return { label, before: before[k], after: after[k], wBefore: b * width, wAfter: a * width, delta: a - b };
  });
}

const clamp01 = (v) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

/** Counts per bin -> fractions of their group (so a few selected rows compare with many unselected). */
export function fractions(counts) {
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
}

/** Values binned on `edges` (n + 1 ascending numbers; the last bin is closed): counts per bin. */
export function binValues(values, edges) {
  const nb = edges.length - 1;
  const counts = new Array(Math.max(nb, 0)).fill(0);
  if (nb < 1) return counts;
  const lo = edges[0];
  const hi = edges[nb];
  for (const v of values) {
    if (!(v >= lo && v <= hi)) continue;
    let k = 0;
    let r = nb - 1;
    while (k < r) {
      const m = (k + r + 1) >> 1;
      if (edges[m] <= v) k = m;
      else r = m - 1;
    }
    counts[k] += 1;
  }
  return counts;
}

/** Histogram bars of two groups side by side in a box (w x h px): [{ x, y, w, h, group, bin }]. */
export function histogramBars(groups, width, height) {
  const nb = groups[0]?.length ?? 0;
  if (!nb) return [];
  const fr = groups.map(fractions);
  const top = Math.max(1e-9, ...fr.flat());
  const slot = width / nb;
  const bw = (slot - 2) / groups.length;
  const out = [];
  for (let b = 0; b < nb; b++) {
    fr.forEach((f, g) => {
      const hh = (f[b] / top) * height;
      out.push({ x: b * slot + 1 + g * bw, y: height - hh, w: Math.max(bw, 0.5), h: hh, group: g, bin: b });
    });
  }
  return out;
}

/** A fraction as a percentage string with at most one decimal (98.4%, 100%). */
export function pct(v) {
  if (!Number.isFinite(v)) return '\u2013';
  const p = Math.round(v * 1000) / 10;
  return `${Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)}%`;
}
