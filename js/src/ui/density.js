// Density layer of a sharded set (Python: scale/widget.py ShardChorus): the kernel sends one small uint8
// texture (a 2-D histogram of every row, row 0 = bottom) and its data extent; it is drawn over the
// projection view, following pan and zoom. A lasso also sends its polygon in data coordinates, so the
// kernel can find every row of the full data inside it (the points drawn are only a sample).
import { decodeUint8 } from '../buffers.js';
import { dataToNdc, ndcToScreen, screenToNdc } from '../layout.js';

/** RGBA pixels (top row first) of a texture whose row 0 is the bottom; alpha grows with the value. */
export function densityPixels(tex, width, height, rgb = [40, 90, 200], maxAlpha = 150) {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let r = 0; r < height; r++) {
    const src = (height - 1 - r) * width;
    for (let c = 0; c < width; c++) {
      const v = tex[src + c];
      const o = 4 * (r * width + c);
      out[o] = rgb[0];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[2];
      out[o + 3] = v ? Math.round((maxAlpha * v) / 255) : 0;
    }
  }
  return out;
}

/** Lasso polygon in canvas pixels -> flat [x0, y0, x1, y1, ...] in data coordinates (fitToNdc transform t). */
export function polygonToData(poly, camera, width, height, t) {
  const out = [];
  for (const [sx, sy] of poly) {
    const [nx, ny] = screenToNdc(camera, width, height, sx, sy);
    out.push(nx / t.sx + t.cx, ny / t.sy + t.cy);
  }
  return out;
}

export function installDensity(model, view) {
  const canvas = document.createElement('canvas');
  canvas.className = 'mc-density';
  Object.assign(canvas.style, { position: 'absolute', left: '0', top: '0', pointerEvents: 'none' });
  view.container.insertBefore(canvas, view.overlay);
  const image = document.createElement('canvas');
  let ready = false;

  const load = () => {
    const [h, w] = model.get('density_shape') || [0, 0];
    const raw = model.get('density');
    const tex = raw ? decodeUint8(raw) : new Uint8Array(0);
    ready = w > 0 && h > 0 && tex.length === w * h;
    if (ready) {
      image.width = w;
      image.height = h;
      image.getContext('2d')?.putImageData(new ImageData(densityPixels(tex, w, h), w, h), 0, 0);
    }
    draw();
  };

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = view;
    if (!width || !height) return;
    if (canvas.width !== width * dpr) {
      canvas.width = width * dpr;
      canvas.height = height * dpr;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!ready || !view.transform) return;
    const [x0, x1, y0, y1] = model.get('density_extent');
    const camera = view.scatterplot.get('cameraView');
    const [ax, ay] = ndcToScreen(camera, width, height, ...dataToNdc(view.transform, x0, y1));
    const [bx, by] = ndcToScreen(camera, width, height, ...dataToNdc(view.transform, x1, y0));
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, ax, ay, bx - ax, by - ay);
  }

  // a lasso: its polygon (kept on the view while the selection is handed over) goes to the kernel too
  let sent = null;
  const select = view.opts.onSelect;
  view.opts.onSelect = (indices) => {
    const ack = select?.(indices);
    const poly = view.keepLasso;
    if (poly && poly !== sent && view.transform && (model.get('total_rows') || 0) > 0) {
      sent = poly;
      const points = polygonToData(poly, view.scatterplot.get('cameraView'), view.width, view.height, view.transform);
      model.send({ type: 'lasso_polygon', points });
    }
    return ack;
  };

  const subs = ['view', 'draw'].map((ev) => [ev, view.scatterplot.subscribe(ev, draw)]);
  const events = ['change:density', 'change:density_shape', 'change:density_extent'];
  for (const ev of events) model.on(ev, load);
  load();
  return {
    draw,
    destroy() {
      for (const ev of events) model.off(ev, load);
      for (const [ev, s] of subs) view.scatterplot.unsubscribe?.(ev, s);
      view.opts.onSelect = select;
      canvas.remove();
    },
  };
}
