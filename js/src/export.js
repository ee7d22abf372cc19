// PNG export of what the views draw (points + overlay), side by side, as a data URL.

/** views: ScatterViews; returns 'data:image/png;base64,...'. */
export function exportPng(views, { background = '#ffffff', gap = 4 } = {}) {
  const shown = views.filter((v) => v.width && v.height && v.container.offsetParent !== null);
  const dpr = window.devicePixelRatio || 1;
  const width = shown.reduce((s, v) => s + v.width, 0) + gap * Math.max(0, shown.length - 1);
  const height = Math.max(1, ...shown.map((v) => v.height));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(width * dpr));
  c.height = Math.round(height * dpr);
  const ctx = c.getContext('2d');
  ctx.scale(dpr, dpr);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, width, height);
  let x = 0;
  for (const v of shown) {
    v.snapshot(ctx, x, 0);
    x += v.width + gap;
  }
  return c.toDataURL('image/png');
}
