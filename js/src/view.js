// One WebGL scatter view (regl-scatterplot) plus a 2-D overlay canvas for glyph rings, named-set
// rings, point labels and axis ticks. Used twice by the Chorus widget (projection, concept axis).
import createScatterplot from 'regl-scatterplot';
import { sameIndices, sortedUnique } from './buffers.js';
import { categoryColors, setColor } from './colors.js';
import { dataToNdc, fitToNdc, ndcToScreen, nearestPoint, niceTicks, screenToNdc } from './layout.js';
import { combineSelection, indicesInPolygon, modeFromEvent } from './lasso.js';

export const SELECTION_COLOR = '#ff00ff';
// 2-D canvas paths get slow (seconds) past a few thousand glyphs in software rendering: cap them.
const OVERLAY_MAX_RINGS = 4000;

export class ScatterView {
  /**
   * container: element to fill; opts: { keepAspect, onSelect(indices), onHover(index|-1, ev),
   * theme, transitionMs, axes: bool }
   */
  constructor(container, opts = {}) {
    this.opts = { keepAspect: true, transitionMs: 700, axes: false, ...opts };
    this.container = container;
    container.classList.add('mc-view-canvas');
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'mc-gl';
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'mc-overlay';
    container.append(this.canvas, this.overlay);
    this.n = 0;
    this.selection = new Uint32Array(0);
    this.sets = []; // [{name, color, indices}]
    this.labels = []; // [{index, text}]
    this.modality = new Uint8Array(0);
    this.textCode = -1;
    this.transform = null;
    this.xy = null;
    this.drawChain = Promise.resolve();
    this.transitioning = false;
    this.mouse = [0, 0];
    this.axisTitles = null;
    const { width, height } = this._size();
    this.scatterplot = createScatterplot({
      canvas: this.canvas,
      width,
      height,
      pointSize: [4, 7],
      sizeBy: 'valueB',
      colorBy: 'valueA',
      pointColor: categoryColors(1),
      pointColorActive: SELECTION_COLOR,
      pointColorHover: '#000000',
      pointSizeSelected: 2,
      pointOutlineWidth: 2,
      opacity: 0.85,
      opacityInactiveScale: 0.6,
      backgroundColor: this.opts.theme?.background ?? '#ffffff',
      lassoColor: [0.1, 0.1, 0.1, 0.9],
      lassoMinDelay: 0,
      lassoMinDist: 2,
      // regl-scatterplot only pans/zooms; the lasso is ours (drawn on the 2-D overlay, so no WebGL
      // frame is needed while it is drawn, which matters at a million software-rendered points)
      mouseMode: 'panZoom',
      actionKeyMap: {},
      deselectOnDblClick: false,
      deselectOnEscape: false,
      // the worker variant stringifies functions, which minification can break: index on the main thread
      spatialIndexUseWorker: false,
      // publish select/deselect synchronously: with a million points a software-rendered frame takes
      // long, and async events would wait behind it before Python hears of the lasso
      syncEvents: true,
      // squares without alpha blending: several times faster to draw at millions of points
      performanceMode: Boolean(this.opts.performance),
    });
    const sp = this.scatterplot;
    sp.subscribe('select', ({ points }) => {
      this.selection = sortedUnique(points);
      this.drawOverlay();
      this.opts.onSelect?.(this.selection);
    });
    sp.subscribe('deselect', () => {
      this.selection = new Uint32Array(0);
      this.drawOverlay();
      this.opts.onSelect?.(this.selection);
    });
    sp.subscribe('pointover', (i) => this.opts.onHover?.(i, this.mouse));
    sp.subscribe('pointout', () => this.opts.onHover?.(-1, this.mouse));
    sp.subscribe('view', () => this.drawOverlay());
    this.transitions = 0;
    sp.subscribe('transitionStart', () => {
      this.transitions += 1;
      this.transitioning = true;
      this.drawOverlay();
    });
    sp.subscribe('transitionEnd', () => {
      this.transitioning = false;
      this.drawOverlay();
    });
    container.addEventListener('mousemove', (ev) => {
      const r = container.getBoundingClientRect();
      this.mouse = [ev.clientX - r.left, ev.clientY - r.top];
    });
    this.mode = 'lasso';
    this.lassoPath = null;
    this._installLasso();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
  }

  _size() {
    const r = this.container.getBoundingClientRect();
    return { width: Math.max(50, Math.round(r.width)), height: Math.max(50, Math.round(r.height)) };
  }

  resize() {
    const { width, height } = this._size();
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.scatterplot.set({ width, height });
    const dpr = window.devicePixelRatio || 1;
    this.overlay.width = width * dpr;
    this.overlay.height = height * dpr;
    this.overlay.style.width = `${width}px`;
    this.overlay.style.height = `${height}px`;
    this.drawOverlay();
  }

  setTheme(theme) {
    this.opts.theme = theme;
    this.scatterplot.set({ backgroundColor: theme.background, lassoColor: theme.dark ? [0.9, 0.9, 0.9, 0.9] : [0.1, 0.1, 0.1, 0.9] });
    this.drawOverlay();
  }

  setStyle({ pointSize, opacity, nCategories, colors } = {}) {
    const props = {};
    if (pointSize != null) props.pointSize = [pointSize, pointSize * 1.75];
    if (opacity != null) props.opacity = opacity;
    const cols = colors || (nCategories != null ? categoryColors(nCategories) : null);
    if (cols) {
      // active/hover lists of the same length, or regl-scatterplot falls back to the base colours
      props.pointColor = cols;
      props.pointColorActive = cols.map(() => SELECTION_COLOR);
      props.pointColorHover = cols.map(() => (this.opts.theme?.dark ? '#ffffff' : '#000000'));
    }
    this.scatterplot.set(props);
    this.drawOverlay();
  }

  /**
   * Draw points. xy: interleaved float32 data coords; codes: per-point category code;
   * modality: per-point modality code (size/glyph); animate: transition from the old layout.
   * Resolves once the frame with these points is drawn (after the animation when animated).
   */
  setPoints(xy, codes, modality, { animate = false, textCode = -1, duration } = {}) {
    const n = xy.length >> 1;
    const fit = fitToNdc(xy, { keepAspect: this.opts.keepAspect });
    const valueA = codes.length === n ? codes : new Uint8Array(n);
    const valueB = modality.length === n ? modality : new Uint8Array(n);
    const canAnimate = animate && this.n === n && n > 0;
    this.modality = valueB;
    this.textCode = textCode;
    const run = () => {
      this.n = n;
      this.xy = xy;
      this.transform = fit.transform;
      this.ndc = fit;
      return this.scatterplot
        .draw(
          { x: fit.x, y: fit.y, valueA, valueB },
          {
            transition: canAnimate,
            transitionDuration: duration ?? this.opts.transitionMs,
            preventFilterReset: true,
            zDataType: 'categorical',
            wDataType: 'categorical',
            select: this.selection.length ? Array.from(this.selection) : undefined,
          },
        )
        .then(() => {
          this.lastDrawResolvedMs = Date.now();
          return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        })
        .then(() => this.drawOverlay());
    };
    this.drawChain = this.drawChain.then(run, run);
    return this.drawChain;
  }

  /** Recolour in place (same positions): reuses the spatial index. */
  setCodes(codes) {
    if (!this.ndc || codes.length !== this.n) return Promise.resolve();
    const run = () =>
      this.scatterplot.draw(
        { x: this.ndc.x, y: this.ndc.y, valueA: codes, valueB: this.modality },
        {
          preventFilterReset: true,
          zDataType: 'categorical',
          wDataType: 'categorical',
          spatialIndex: this.scatterplot.get('spatialIndex'),
          select: this.selection.length ? Array.from(this.selection) : undefined,
        },
      );
    this.drawChain = this.drawChain.then(run, run);
    return this.drawChain;
  }

  /** Highlight `indices` (sorted) without publishing a select event. */
  select(indices) {
    if (sameIndices(indices, this.selection)) return;
    this.selection = Uint32Array.from(indices);
    const apply = () => {
      if (this.selection.length === 0) this.scatterplot.deselect({ preventEvent: true });
      else this.scatterplot.select(Array.from(this.selection), { preventEvent: true });
      this.drawOverlay();
    };
    if (this.n > 0) apply();
    this.drawChain = this.drawChain.then(apply, apply);
  }

  hover(index) {
    if (this.n === 0) return;
    this.scatterplot.hover(index >= 0 ? index : -1, { preventEvent: true });
  }

  setMouseMode(mode) {
    this.mode = mode === 'pan' ? 'pan' : 'lasso';
    this.container.classList.toggle('mc-mode-lasso', this.mode === 'lasso');
  }

  _local(ev) {
    const r = this.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  _installLasso() {
    const box = this.container;
    box.classList.add('mc-mode-lasso');
    const onDown = (ev) => {
      if (this.mode !== 'lasso' || ev.button !== 0 || !this.ndc) return;
      ev.stopPropagation();
      ev.preventDefault();
      this.lassoPath = [this._local(ev)];
      this.lassoMode = modeFromEvent(ev);
      window.addEventListener('mousemove', onMove, true);
      window.addEventListener('mouseup', onUp, true);
    };
    const onMove = (ev) => {
      if (!this.lassoPath) return;
      ev.stopPropagation();
      const p = this._local(ev);
      const last = this.lassoPath[this.lassoPath.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 2) {
        this.lassoPath.push(p);
        this._drawLassoPath();
      }
    };
    const onUp = (ev) => {
      window.removeEventListener('mousemove', onMove, true);
      window.removeEventListener('mouseup', onUp, true);
      if (!this.lassoPath) return;
      ev.stopPropagation();
      this.lastMouseUpMs = Date.now();
      const path = this.lassoPath;
      this.lassoPath = null;
      const mode = modeFromEvent(ev) !== 'replace' ? modeFromEvent(ev) : this.lassoMode;
      let extent = 0;
      for (const [x, y] of path) extent = Math.max(extent, Math.hypot(x - path[0][0], y - path[0][1]));
      if (path.length < 3 || extent < 4) this._click(path[0], mode);
      else this._lassoSelect(path, mode);
      this.drawOverlay();
    };
    box.addEventListener('mousedown', onDown, true);
    // clicks are handled by _click; keep regl-scatterplot's own click/dblclick from deselecting
    box.addEventListener('click', (ev) => { if (this.mode === 'lasso') ev.stopPropagation(); }, true);
    box.addEventListener('dblclick', (ev) => { if (this.mode === 'lasso') ev.stopPropagation(); }, true);
  }

  _toNdc([sx, sy]) {
    return screenToNdc(this.scatterplot.get('cameraView'), this.width, this.height, sx, sy);
  }

  _lassoSelect(path, mode) {
    // Points inside the polygon, computed here (a flat scan, ~10 ms at 1M points) and handed to Python
    // first; regl-scatterplot's own select (slow for 100k+ points) only paints the highlight afterwards.
    const poly = path.flatMap((p) => this._toNdc(p));
    const inside = indicesInPolygon(this.ndc.x, this.ndc.y, poly);
    const next = combineSelection(this.selection, inside, mode);
    this.selection = next;
    this.keepLasso = path;
    const paint = () => {
      this.keepLasso = null;
      if (this.selection !== next) return;
      if (next.length === 0) this.scatterplot.deselect({ preventEvent: true });
      else this.scatterplot.select(Array.from(next), { preventEvent: true });
      this.drawOverlay();
    };
    // At large n a software-rendered WebGL frame takes about a second of every core; painting the
    // highlight before the kernel has the indices would starve the transfer. So wait for the kernel's
    // acknowledgement (or 1.5 s) first; the lasso outline stays on screen meanwhile.
    const ack = this.opts.onSelect?.(next);
    if (ack && this.n > 200000) {
      let done = false;
      const once = () => { if (!done) { done = true; paint(); } };
      ack.then(once);
      setTimeout(once, 1500);
    } else {
      setTimeout(paint, 0);
    }
  }

  _click(p, mode) {
    const [x, y] = this._toNdc(p);
    const [x2] = this._toNdc([p[0] + 6, p[1]]);
    const i = nearestPoint(this.ndc.x, this.ndc.y, x, y, Math.abs(x2 - x));
    if (i < 0) {
      if (mode === 'replace') this.scatterplot.deselect();
      return;
    }
    this.scatterplot.select([i], { merge: mode === 'add', remove: mode === 'subtract' });
  }

  _drawLassoPath() {
    const ctx = this.overlay.getContext('2d');
    if (!ctx || !this.lassoPath) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pts = this.lassoPath;
    const n = pts.length;
    if (n < 2) return;
    ctx.strokeStyle = this.opts.theme?.dark ? '#e6e6e6' : '#1a1a1a';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(pts[n - 2][0], pts[n - 2][1]);
    ctx.lineTo(pts[n - 1][0], pts[n - 1][1]);
    ctx.stroke();
  }

  resetView() {
    this.scatterplot.zoomToOrigin({ transition: true });
  }

  setSets(sets) {
    this.sets = sets;
    this.drawOverlay();
  }

  setLabels(labels) {
    this.labels = labels;
    this.drawOverlay();
  }

  setAxisTitles(titles) {
    this.axisTitles = titles;
    this.drawOverlay();
  }

  /** Canvas-pixel position of point i (for tests, tooltips and labels). */
  screenPosition(i) {
    if (!this.ndc || i < 0 || i >= this.n) return null;
    const view = this.scatterplot.get('cameraView');
    return ndcToScreen(view, this.width, this.height, this.ndc.x[i], this.ndc.y[i]);
  }

  drawOverlay() {
    const ctx = this.overlay.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width || 0, this.height || 0);
    if (!this.ndc || this.transitioning) return;
    const view = this.scatterplot.get('cameraView');
    const { width, height } = this;
    const theme = this.opts.theme || { ring: '#222222', foreground: '#1f1f1f', muted: '#666' };
    const pos = (i) => ndcToScreen(view, width, height, this.ndc.x[i], this.ndc.y[i]);
    const base = this.scatterplot.get('pointSize');
    const textSize = Array.isArray(base) ? base[base.length - 1] : base * 1.75;
    // Text points: an outlined diamond around the dot (images stay plain filled dots).
    if (this.textCode >= 0) {
      let count = 0;
      for (let i = 0; i < this.n; i++) if (this.modality[i] === this.textCode) count++;
      if (count > 0 && count <= OVERLAY_MAX_RINGS) {
        ctx.strokeStyle = theme.ring;
        ctx.globalAlpha = 0.75;
        ctx.lineWidth = 1;
        ctx.beginPath();
        const r = textSize / 2 + 2;
        for (let i = 0; i < this.n; i++) {
          if (this.modality[i] !== this.textCode) continue;
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
    }
    // Named sets: coloured rings.
    let rings = 0;
    for (const s of this.sets) {
      if (!s.visible && s.visible !== undefined) continue;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      const r = textSize / 2 + 4;
      for (let k = 0; k < s.indices.length && rings < OVERLAY_MAX_RINGS; k++, rings++) {
        const i = s.indices[k];
        if (i >= this.n) continue;
        const [sx, sy] = pos(i);
        ctx.moveTo(sx + r, sy);
        ctx.arc(sx, sy, r, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }
    // Labels of text / concept points.
    if (this.labels.length) {
      ctx.font = '11px sans-serif';
      ctx.fillStyle = theme.foreground;
      ctx.textBaseline = 'middle';
      for (const { index, text } of this.labels) {
        if (index >= this.n) continue;
        const [sx, sy] = pos(index);
        if (sx < 0 || sy < 0 || sx > width || sy > height) continue;
        ctx.fillText(text, sx + textSize / 2 + 4, sy);
      }
    }
    if (this.opts.axes && this.transform) this._drawAxes(ctx, view, theme);
    if (this.keepLasso && this.keepLasso.length > 1) {
      ctx.strokeStyle = theme.dark ? '#e6e6e6' : '#1a1a1a';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(this.keepLasso[0][0], this.keepLasso[0][1]);
      for (const [x, y] of this.keepLasso) ctx.lineTo(x, y);
      ctx.closePath();
      ctx.stroke();
    }
  }

  _drawAxes(ctx, view, theme) {
    const { width, height, transform: t } = this;
    ctx.strokeStyle = theme.muted;
    ctx.fillStyle = theme.muted;
    ctx.font = '10px sans-serif';
    ctx.lineWidth = 1;
    // x ticks along the bottom edge, from the visible data range.
    const inv = (sx) => {
      // screen x -> ndc x -> data x (the camera is a scale + translation here)
      const aspect = width / height;
      const cx = ((sx / width) * 2 - 1) * aspect;
      const ndcX = (cx - view[12]) / view[0];
      return ndcX / t.sx + t.cx;
    };
    const lo = inv(0), hi = inv(width);
    for (const v of niceTicks(lo, hi, 6)) {
      const [nx] = dataToNdc(t, v, 0);
      const [sx] = ndcToScreen(view, width, height, nx, 0);
      ctx.beginPath();
      ctx.moveTo(sx, height - 14);
      ctx.lineTo(sx, height - 10);
      ctx.stroke();
      ctx.textAlign = 'center';
      ctx.fillText(v.toFixed(2), sx, height - 3);
    }
    // zero line: where cos(e, a) = cos(e, b)
    const [z] = ndcToScreen(view, width, height, dataToNdc(t, 0, 0)[0], 0);
    if (z > 0 && z < width) {
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(z, 0);
      ctx.lineTo(z, height - 16);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (this.axisTitles) {
      ctx.font = 'bold 12px sans-serif';
      ctx.fillStyle = theme.foreground;
      ctx.textAlign = 'left';
      ctx.fillText(`\u2190 ${this.axisTitles.b}`, 6, 14);
      ctx.textAlign = 'right';
      ctx.fillText(`${this.axisTitles.a} \u2192`, width - 6, 14);
      if (this.axisTitles.y) {
        ctx.save();
        ctx.translate(12, height / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = 'center';
        ctx.fillText(this.axisTitles.y, 0, 0);
        ctx.restore();
      }
    }
  }

  destroy() {
    this.resizeObserver.disconnect();
    this.scatterplot.destroy();
  }
}

/** Named sets from the model (name -> uint32 indices) to overlay entries with stable colours. */
export function setEntries(names, decoded) {
  return names.map((name, k) => ({ name, color: setColor(k), indices: decoded[name] }));
}
