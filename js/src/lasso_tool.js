// Mouse lasso and click selection on a ScatterView (lasso mode): the path is drawn on the 2-D overlay, the
// points inside are found here and handed to onSelect (Python) before regl-scatterplot paints the highlight.
import { combineSelection, indicesInPolygon, modeFromEvent } from './lasso.js';
import { nearestPoint, screenToNdc } from './layout.js';
import { lassoColor } from './overlay.js';
import { TEST_HOOKS } from './test_hooks.js';

/** A drag shorter than this (pixels from its start), or of fewer than 3 points, is a click. */
const CLICK_EXTENT = 4;

export function installLasso(view) {
  const box = view.container;
  let path = null;
  let downMode = 'replace';
  const local = (ev) => {
    const r = view.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  const toNdc = ([sx, sy]) => screenToNdc(view.scatterplot.get('cameraView'), view.width, view.height, sx, sy);

  const strokeLastSegment = () => {
    const ctx = view.overlay.getContext('2d');
    if (!ctx || !path || path.length < 2) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const [a, b] = path.slice(-2);
    ctx.strokeStyle = lassoColor(view.opts.theme);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  };

  const select = (poly, mode) => {
    // Points inside the polygon, computed here (a flat scan, ~10 ms at 1M points) and handed to Python
    // first; regl-scatterplot's own select (slow for 100k+ points) only paints the highlight afterwards.
    const inside = indicesInPolygon(view.ndc.x, view.ndc.y, poly.flatMap(toNdc));
    const next = combineSelection(view.selection, inside, mode);
    view.selection = next;
    view.keepLasso = poly;
    const paint = () => {
      view.keepLasso = null;
      if (view.selection !== next) return;
      if (next.length === 0) view.scatterplot.deselect({ preventEvent: true });
      else view.scatterplot.select(Array.from(next), { preventEvent: true });
      view.drawOverlay();
    };
    // At large n a software-rendered WebGL frame takes about a second of every core; painting the
    // highlight before the kernel has the indices would starve the transfer. So wait for the kernel's
    // acknowledgement (or 1.5 s) first; the lasso outline stays on screen meanwhile.
    const ack = view.opts.onSelect?.(next);
    if (ack && view.n > 200000) {
      let done = false;
      const once = () => {
        if (!done) {
          done = true;
          paint();
        }
      };
      ack.then(once);
      setTimeout(once, 1500);
    } else {
      setTimeout(paint, 0);
    }
  };

  const click = (p, mode) => {
    const [x, y] = toNdc(p);
    const [x2] = toNdc([p[0] + 6, p[1]]);
    const i = nearestPoint(view.ndc.x, view.ndc.y, x, y, Math.abs(x2 - x));
    if (i < 0) {
      if (mode === 'replace') view.scatterplot.deselect();
      return;
    }
    view.scatterplot.select([i], { merge: mode === 'add', remove: mode === 'subtract' });
  };

  const onDown = (ev) => {
    if (view.mode !== 'lasso' || ev.button !== 0 || !view.ndc) return;
    ev.stopPropagation();
    ev.preventDefault();
    path = [local(ev)];
    downMode = modeFromEvent(ev);
    window.addEventListener('mousemove', onMove, true);
    window.addEventListener('mouseup', onUp, true);
  };
  const onMove = (ev) => {
    if (!path) return;
    ev.stopPropagation();
    const p = local(ev);
    const last = path[path.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 2) {
      path.push(p);
      strokeLastSegment();
    }
  };
  const onUp = (ev) => {
    window.removeEventListener('mousemove', onMove, true);
    window.removeEventListener('mouseup', onUp, true);
    if (!path) return;
    ev.stopPropagation();
    if (TEST_HOOKS && view.opts.debug) view.lastMouseUpMs = Date.now();
    const done = path;
    path = null;
    const mode = modeFromEvent(ev) !== 'replace' ? modeFromEvent(ev) : downMode;
    let extent = 0;
    for (const [x, y] of done) extent = Math.max(extent, Math.hypot(x - done[0][0], y - done[0][1]));
    if (done.length < 3 || extent < CLICK_EXTENT) click(done[0], mode);
    else select(done, mode);
    view.drawOverlay();
  };

  box.classList.add('mc-mode-lasso');
  box.addEventListener('mousedown', onDown, true);
  // clicks are handled above; keep regl-scatterplot's own click/dblclick from deselecting
  const swallow = (ev) => {
    if (view.mode === 'lasso') ev.stopPropagation();
  };
  box.addEventListener('click', swallow, true);
  box.addEventListener('dblclick', swallow, true);
}
