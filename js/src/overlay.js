// The 2-D overlay of a scatter view, in CSS pixels over the WebGL canvas: text-point diamonds, named-set
// rings, point labels, concept-axis ticks and titles, and lasso outlines. `frame` is
// { n, pos(i) -> [sx, sy], width, height, size (text point size), theme }.
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

/** Labels [{index, text}] right of their points (text / concept points). */
export function drawLabels(ctx, { n, pos, width, height, size, theme }, labels) {
  if (!labels.length) return;
  ctx.font = '11px sans-serif';
  ctx.fillStyle = theme.foreground;
  ctx.textBaseline = 'middle';
  for (const { index, text } of labels) {
    if (index >= n) continue;
    const [sx, sy] = pos(index);
    if (sx < 0 || sy < 0 || sx > width || sy > height) continue;
    ctx.fillText(text, sx + size / 2 + 4, sy);
  }
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
