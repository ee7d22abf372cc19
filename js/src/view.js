// One WebGL scatter view (regl-scatterplot) plus a 2-D overlay canvas for glyph rings, named-set
// rings, point labels and axis ticks. Used twice by the Chorus widget (projection, concept axis).
import createScatterplot from 'regl-scatterplot';
import { sameIndices, sortedUnique } from './buffers.js';
import { categoryColors } from './colors.js';
import { dataToNdc, fitToNdc, ndcToScreen } from './layout.js';
import { installLasso } from './lasso_tool.js';
import { drawAxes, drawFocus, drawLabels, drawLassoOutline, drawSearch, drawSetRings, drawTextGlyphs, drawTrails } from './overlay.js';
import { TEST_HOOKS } from './test_hooks.js';
import { reframe, trailAlpha, trailSegments, trailSegmentsFromData } from './trails.js';

const SELECTION_COLOR = '#ff00ff';
const DIM_INACTIVE = 0.12;
const NORMAL_INACTIVE = 0.6;

/** Whether this browser can give a WebGL context (false: software rendering disabled, old GPU, blocked).
 * makeCanvas: where the probe canvas comes from (a test passes its own). */
export function webglAvailable(makeCanvas = () => document.createElement('canvas')) {
  if (TEST_HOOKS && globalThis.__MODALCHORUS_NO_WEBGL__ === true) return false; // test_hooks.js
  try {
    const c = makeCanvas();
    return Boolean(c.getContext('webgl2') || c.getContext('webgl'));
  } catch {
    return false;
  }
}

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
/** Stands in for regl-scatterplot without WebGL: the overlay (labels, rings) still draws; no points. */
function noWebGL() {
  const props = { cameraView: IDENTITY, pointSize: 4, spatialIndex: null };
  return {
    get: (k) => props[k],
    set: (p) => Object.assign(props, p),
    draw: () => Promise.resolve(),
    select() {}, deselect() {}, hover() {}, subscribe() {}, destroy() {},
    zoomToOrigin: () => Promise.resolve(),
    zoomToLocation: () => Promise.resolve(),
  };
}
const DEFAULT_THEME = { ring: '#222222', foreground: '#1f1f1f', muted: '#666' };

export class ScatterView {
  /**
   * container: element to fill; opts: { keepAspect, onSelect(indices), onHover(index|-1, ev),
   * theme, transitionMs, axes: bool, performance: bool, debug: bool (timing fields for tests) }
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
    this.drawChain = Promise.resolve();
    this.transitioning = false;
    this.mouse = [0, 0];
    this.axisTitles = null;
    this.trails = null; // { seg, t0 } of the last round
    this.search = null; // { matches, nearest, query, xy }
    this.focusIndex = -1;
    this.hoverIndex = -1;
    this.webgl = webglAvailable();
    const { width, height } = this._size();
    const settings = {
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
    };
    try {
      this.scatterplot = this.webgl ? createScatterplot(settings) : noWebGL();
    } catch {
      this.webgl = false;
      this.scatterplot = noWebGL();
    }
    if (!this.webgl) {
      const msg = document.createElement('div');
      msg.className = 'mc-nowebgl';
      msg.setAttribute('role', 'alert');
      msg.textContent = 'WebGL is not available in this browser, so the points cannot be drawn. Enable hardware '
        + 'acceleration (or WebGL) in the browser settings and re-run the cell; selections, sets and alignment still work from Python.';
      container.append(msg);
    }
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
    sp.subscribe('pointover', (i) => {
      this.hoverIndex = i;
      if (this.labels.length) this.drawOverlay();
      this.opts.onHover?.(i, this.mouse);
    });
    sp.subscribe('pointout', () => {
      this.hoverIndex = -1;
      this.opts.onHover?.(-1, this.mouse);
    });
    sp.subscribe('view', () => this.drawOverlay());
    if (TEST_HOOKS && this.opts.debug) this.transitions = 0;
    sp.subscribe('transitionStart', () => {
      if (TEST_HOOKS && this.opts.debug) this.transitions += 1;
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
    this.keepLasso = null;
    installLasso(this);
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
      this.prevNdc = this.n === n ? this.ndc : null;
      this.n = n;
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
          if (TEST_HOOKS && this.opts.debug) this.lastDrawResolvedMs = Date.now();
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

  /** After the positions now queued are drawn: trails from each moved point's old place in the data to its new
   * one, in the frame drawn then, fading out (they keep the fade of trails drawn early by startTrails). From
   * the kernel's moved points (`early`: { index, oldXY, newXY, stats }, trails.js trailSegmentsFromData) when
   * they came, since the view may have drawn several position updates at once (a fit finishing just before a
   * round); else from the layout drawn before. `rule`: the protocol's trail rule (trails.js trailRule).
   * Resolves with the number drawn. */
  showTrails(early, rule) {
    const run = () => {
      if (early && this.transform) {
        const { index, oldXY, newXY, stats } = early;
        return this.startTrails(trailSegmentsFromData(index, oldXY, newXY, this.transform, rule, stats), this.trails?.t0);
      }
      const prev = this.prevNdc;
      if (!prev?.transform || !this.ndc) return 0;
      const old = reframe(prev, prev.transform, this.transform);
      return this.startTrails(trailSegments(old, this.ndc, rule), this.trails?.t0);
    };
    this.drawChain = this.drawChain.then(run, run);
    return this.drawChain;
  }

  /** Draw trail segments (trails.js) now, on the overlay, fading from t0; returns how many. */
  startTrails(seg, t0 = Date.now()) {
    this.trails = { seg, t0 };
    clearInterval(this.trailTimer);
    this.trailTimer = setInterval(() => {
      if (!this.trails || trailAlpha(Date.now() - this.trails.t0) <= 0) {
        clearInterval(this.trailTimer);
        this.trails = null;
      }
      this.drawOverlay();
    }, 100);
    this.drawOverlay();
    if (TEST_HOOKS && this.opts.debug) this.trailsDrawn = seg.x0.length;
    return seg.x0.length;
  }

  /** Search results (drawn indices) and the query's data position [x, y] (or null) to show. */
  setSearch(search) {
    this.search = search;
    this.drawOverlay();
  }

  /** Focus point i (from the gallery): a mark on it, centred, zoomed in a little. */
  focus(i) {
    if (i < 0 || i >= this.n) return;
    this.focusIndex = i;
    this.hover(i);
    const view = this.scatterplot.get('cameraView');
    const distance = Math.min(1 / Math.max(view[0], 1e-6), 0.5);
    this.scatterplot.zoomToLocation([this.ndc.x[i], this.ndc.y[i]], distance, { transition: true, transitionDuration: 300 })
      ?.then?.(() => this.drawOverlay());
    this.drawOverlay();
  }

  /** Dim every point outside the selection (or not). */
  setDim(on) {
    this.scatterplot.set({ opacityInactiveScale: on ? DIM_INACTIVE : NORMAL_INACTIVE });
  }

  /** Copy what is drawn (points + overlay) into a 2-D context at (x, y). */
  snapshot(ctx, x, y) {
    ctx.drawImage(this.canvas, x, y, this.width, this.height);
    ctx.drawImage(this.overlay, x, y, this.width, this.height);
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
    const { width, height, ndc } = this;
    const theme = this.opts.theme || DEFAULT_THEME;
    const base = this.scatterplot.get('pointSize');
    const frame = {
      n: this.n,
      pos: (i) => ndcToScreen(view, width, height, ndc.x[i], ndc.y[i]),
      width,
      height,
      size: Array.isArray(base) ? base[base.length - 1] : base * 1.75,
      theme,
    };
    drawTextGlyphs(ctx, frame, this.modality, this.textCode);
    drawSetRings(ctx, frame, this.sets);
    if (this.trails) drawTrails(ctx, { ...frame, view }, this.trails.seg, trailAlpha(Date.now() - this.trails.t0));
    if (this.search) {
      const q = this.search.xy && this.transform ? dataToNdc(this.transform, this.search.xy[0], this.search.xy[1]) : null;
      drawSearch(ctx, frame, this.search, q ? ndcToScreen(view, width, height, q[0], q[1]) : null);
    }
    drawFocus(ctx, frame, this.focusIndex);
    const nLabels = drawLabels(ctx, frame, this.labels, this.hoverIndex);
    if (TEST_HOOKS && this.opts.debug) this.labelsDrawn = nLabels;
    if (this.opts.axes && this.transform) drawAxes(ctx, frame, view, this.transform, this.axisTitles);
    drawLassoOutline(ctx, this.keepLasso, theme);
  }

  destroy() {
    clearInterval(this.trailTimer);
    this.resizeObserver.disconnect();
    this.scatterplot.destroy();
  }
}
