// The 2-D overlay of a scatter view, in CSS pixels over the WebGL canvas: text-point diamonds, named-set
// rings, point labels, concept-axis ticks and titles, and lasso outlines. `frame` is
// { n, pos(i) -> [sx, sy], width, height, size (text point size), theme }.
import { placeLabels } from './label_placement.js';
import { dataToNdc, ndcToScreen, niceTicks } from './layout.js';

// 2-D canvas paths get slow (seconds) past a few thousand glyphs in software rendering: cap them.
const MAX_GLYPHS = 4000;

export const lassoColor = (theme) => (theme?.dark ? '#e6e6e6' : '#1a1a1a');

/** Text points: an outlined diamond around the dot (images stay plain filled dots). */
export function drawTextGlyphs(ctx, { n, pos, width, height, size, theme }, modality, textCode) {
  if (textCode < 0) return;
  let count = 0;
  for (let i = 0; i < n; i++) if (modality[i] === textCode) count++;
  if (count === 0 || count > MAX_GLYPHS) return;
  ctx.strokeStyle = theme.ring;
  ctx.globalAlpha = 0.75;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const r = size / 2 + 2;
  for (let i = 0; i < n; i++) {
    if (modality[i] !== textCode) continue;
    const [sx, sy] = pos(i);
    if (sx < -r || sy < -r || sx > width + r || sy > height + r) continue;
    ctx.moveTo(sx, sy - r);
    ctx.lineTo(sx + r, sy);
    ctx.lineTo(sx, sy + r);
    ctx.lineTo(sx - r, sy);
    ctx.closePath();
  }
  ctx.stroke();
  ctx.globalAlpha = 1;
}

/** Named sets [{color, indices, visible?}]: coloured rings, at most MAX_GLYPHS over all sets. */
export function drawSetRings(ctx, { n, pos, size }, sets) {
  let rings = 0;
  const r = size / 2 + 4;
  for (const s of sets) {
    if (!s.visible && s.visible !== undefined) continue;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let k = 0; k < s.indices.length && rings < MAX_GLYPHS; k++, rings++) {
      const i = s.indices[k];
      if (i >= n) continue;
      const [sx, sy] = pos(i);
      ctx.moveTo(sx + r, sy);
      ctx.arc(sx, sy, r, 0, 2 * Math.PI);
    }
    ctx.stroke();
  }
}

/** Labels [{index, text}] beside their points, placed without overlap (placeLabels); the hovered point's
 * label first. Labels that cannot be placed are hidden (hovering their point shows them). Returns the count drawn. */
export function drawLabels(ctx, { n, pos, width, height, size, theme }, labels, hovered = -1) {
  if (!labels.length) return 0;
  ctx.font = '11px sans-serif';
  ctx.textBaseline = 'middle';
  const boxes = [];
  const text = new Map();
  for (const { index, text: t } of labels) {
    if (index >= n) continue;
    const [x, y] = pos(index);
    boxes.push({ index, x, y, w: ctx.measureText(t).width + 4, h: 14 });
    text.set(index, t);
  }
  const placed = placeLabels(boxes, { width, height, gap: size / 2 + 3, priority: hovered });
  // a thin halo in the background colour keeps text readable over points without hiding them
  ctx.lineJoin = 'round';
  ctx.lineWidth = 2.5;
  ctx.strokeStyle = theme.background ?? '#ffffff';
  ctx.fillStyle = theme.foreground;
  for (const b of placed) {
    ctx.strokeText(text.get(b.index), b.x + 2, b.y + b.h / 2);
    ctx.fillText(text.get(b.index), b.x + 2, b.y + b.h / 2);
  }
  return placed.length;
}

/** Trails {x0, y0, x1, y1} (NDC) of the last round, from old place (faint) to new place, at `alpha`. */
export function drawTrails(ctx, { view, width, height, theme }, trails, alpha) {
  if (!trails || alpha <= 0) return 0;
  const k = trails.x0.length;
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = theme.dark ? '#ffd166' : '#d1495b';
  for (const [lo, a] of [[0, 0.35], [0.5, 1]]) {
    // two passes: the old half fainter than the new half, so the direction reads at a glance
    ctx.globalAlpha = alpha * a * 0.9;
    ctx.beginPath();
    for (let j = 0; j < k; j++) {
      const xa = trails.x0[j] + (trails.x1[j] - trails.x0[j]) * lo;
      const ya = trails.y0[j] + (trails.y1[j] - trails.y0[j]) * lo;
      const xb = lo === 0 ? trails.x0[j] + (trails.x1[j] - trails.x0[j]) * 0.5 : trails.x1[j];
      const yb = lo === 0 ? trails.y0[j] + (trails.y1[j] - trails.y0[j]) * 0.5 : trails.y1[j];
      const [sx, sy] = ndcToScreen(view, width, height, xa, ya);
      const [ex, ey] = ndcToScreen(view, width, height, xb, yb);
      ctx.moveTo(sx, sy);
      ctx.lineTo(ex, ey);
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  return k;
}

/** Search results: rings around nearest points (solid) and substring matches (dashed), the query as a star. */
export function drawSearch(ctx, { n, pos, size, theme }, search, queryScreen) {
  if (!search) return;
  const r = size / 2 + 5;
  const ring = (indices, color, dash) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.beginPath();
    for (let k = 0; k < indices.length && k < MAX_GLYPHS; k++) {
      const i = indices[k];
      if (i >= n) continue;
      const [sx, sy] = pos(i);
      ctx.moveTo(sx + r, sy);
      ctx.arc(sx, sy, r, 0, 2 * Math.PI);
    }
    ctx.stroke();
    ctx.setLineDash([]);
  };
  ring(search.matches, '#2a9d8f', [3, 2]);
  ring(search.nearest, '#f4a261', []);
  if (queryScreen) {
    const [qx, qy] = queryScreen;
    ctx.fillStyle = '#f4a261';
    ctx.strokeStyle = theme.foreground;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let k = 0; k < 10; k++) {
      const a = -Math.PI / 2 + (k * Math.PI) / 5;
      const rr = k % 2 ? 4 : 10;
      ctx.lineTo(qx + rr * Math.cos(a), qy + rr * Math.sin(a));
    }
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
    ctx.font = 'bold 11px sans-serif';
    ctx.fillStyle = theme.foreground;
    ctx.textBaseline = 'middle';
    ctx.fillText(`"${search.query}"`, qx + 12, qy);
  }
}

/** A focus mark (cross-hair ring) on point i. */
export function drawFocus(ctx, { n, pos, size, theme }, i) {
  if (i < 0 || i >= n) return;
  const [sx, sy] = pos(i);
  const r = size / 2 + 9;
  ctx.strokeStyle = theme.foreground;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(sx, sy, r, 0, 2 * Math.PI);
  for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
    ctx.moveTo(sx + dx * r, sy + dy * r);
    ctx.lineTo(sx + dx * (r + 6), sy + dy * (r + 6));
  }
  ctx.stroke();
}

/** Concept axis: x ticks of the visible data range, the dashed zero line (cos(e, a) = cos(e, b)) and
 * the titles {a, b, y}. view: the camera matrix; t: the fitToNdc transform. */
export function drawAxes(ctx, { width, height, theme }, view, t, titles) {
  ctx.strokeStyle = theme.muted;
  ctx.fillStyle = theme.muted;
  ctx.font = '10px sans-serif';
  ctx.lineWidth = 1;
  const inv = (sx) => {
    // screen x -> ndc x -> data x (the camera is a scale + translation here)
    const aspect = width / height;
    const cx = ((sx / width) * 2 - 1) * aspect;
    const ndcX = (cx - view[12]) / view[0];
    return ndcX / t.sx + t.cx;
  };
  for (const v of niceTicks(inv(0), inv(width), 6)) {
    const [nx] = dataToNdc(t, v, 0);
    const [sx] = ndcToScreen(view, width, height, nx, 0);
    ctx.beginPath();
    ctx.moveTo(sx, height - 14);
    ctx.lineTo(sx, height - 10);
    ctx.stroke();
    ctx.textAlign = 'center';
    ctx.fillText(v.toFixed(2), sx, height - 3);
  }
  const [z] = ndcToScreen(view, width, height, dataToNdc(t, 0, 0)[0], 0);
  if (z > 0 && z < width) {
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(z, 0);
    ctx.lineTo(z, height - 16);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (!titles) return;
  ctx.font = 'bold 12px sans-serif';
  ctx.fillStyle = theme.foreground;
  ctx.textAlign = 'left';
  ctx.fillText(`\u2190 ${titles.b}`, 6, 14);
  ctx.textAlign = 'right';
  ctx.fillText(`${titles.a} \u2192`, width - 6, 14);
  if (titles.y) {
    ctx.save();
    ctx.translate(12, height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText(titles.y, 0, 0);
    ctx.restore();
  }
}

/** A lasso path [[x, y], ...] as a closed outline (kept on screen until the selection is painted). */
export function drawLassoOutline(ctx, path, theme) {
  if (!path || path.length < 2) return;
  ctx.strokeStyle = lassoColor(theme);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(path[0][0], path[0][1]);
  for (const [x, y] of path) ctx.lineTo(x, y);
  ctx.closePath();
  ctx.stroke();
}
