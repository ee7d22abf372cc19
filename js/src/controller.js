// The widget's controller: one explicit state object, the views, the protocol and the events that panels mount
// into (js/src/widget.js lists the panels; js/src/panels.js wires the built-in ones). See the comment at the top
// of widget.js for how to add a panel.
import { decodeCodes, decodeFloat32, decodeUint8 } from './buffers.js';
import { h } from './dom.js';
import { createProtocol } from './protocol.js';
import { createSelection } from './selection.js';
import { testHooks } from './test_hooks.js';
import { pageTheme, watchTheme } from './theme.js';
import { setEntries } from './ui/sets_panel.js';
import { hideRerunNoteWhenAttached } from './ui/rerun_note.js';
import { ScatterView } from './view.js';

/** Where a panel's element goes, top to bottom: toolbar, notice, the row of views, panels, footer. */
export const SLOTS = ['toolbar', 'notice', 'views', 'panels', 'footer'];

/** The same model, with every custom message it sends checked against the protocol (for the ui/ factories,
 * which call model.send themselves). */
function checkedModel(model, protocol) {
  return {
    get: (key) => model.get(key),
    set: (key, value) => model.set(key, value),
    save_changes: () => model.save_changes(),
    on: (ev, fn) => model.on(ev, fn),
    off: (ev, fn) => model.off(ev, fn),
    send: (msg, _callbacks, buffers) => {
      const { type, ...fields } = msg;
      protocol.send(type, fields, buffers);
    },
  };
}

/**
 * A controller over `model`, drawn into `el`. Its state is `ctrl.state`:
 *   chorus: the view mode is Chorus' (else a plain ScatterWidget);
 *   points: { n, codes, modality, textCode } of the drawn points, shared by every view, the tooltip and status;
 *   mode: 'lasso' | 'pan'; dim: the rest is dimmed; theme: the page's colours;
 *   performance: many points (the views draw plainer);
 *   round: { early: the kernel's trails of the round on its way, drawing: a promise while they are drawn }.
 * Panels use: mount(el, slot), addView(box, opts), views(), send(kind, fields, buffers), on(kind, fn),
 * watch(traits, fn), emit/listen(event, fn), act(action), onDestroy(fn), and `selection`, `model`, `root`.
 */
export function createController({ model, el }) {
  const hooks = testHooks();
  const renderStartMs = Date.now();
  // data-lm-suppress-shortcuts: JupyterLab leaves the widget's own keys (L, P, D, U, /, Esc) to it
  const root = h('div', { class: 'mc-root', tabindex: '0', 'data-lm-suppress-shortcuts': 'true' });
  const slots = Object.fromEntries(SLOTS.map((name) => [name, []]));
  // the views slot is one row: the projection, the concept axis and the gallery side by side
  const viewsRow = h('div', { class: 'mc-views' });
  const protocol = createProtocol(model);
  const cleanups = [];
  const listeners = new Map();
  const viewList = [];

  const state = {
    chorus: model.get('view_mode') === 'chorus',
    points: { n: 0, codes: new Uint8Array(0), modality: new Uint8Array(0), textCode: -1 },
    mode: 'lasso',
    dim: false,
    theme: pageTheme(el),
    performance: false,
    round: { early: null, drawing: null },
  };

  const ctrl = {
    model,
    /** `model` for the ui/ factories: what they send is checked against the protocol. */
    port: checkedModel(model, protocol),
    root,
    state,
    protocol: protocol.schema,
    hooks,
    views: () => viewList.slice(),
    /** Number of colour categories (at least 1). */
    nCategories: () => Math.max(1, (model.get('category_names') || []).length),

    /** Place `element` in `slot` (SLOTS), after what is there already. */
    mount(element, slot) {
      if (!slots[slot]) throw new Error(`controller: no slot '${slot}'; one of ${SLOTS.join(', ')}`);
      if (!(element instanceof Node)) throw new Error(`controller: mount(${element}, '${slot}') needs a DOM element`);
      if (slot === 'views') return viewsRow.appendChild(element);
      slots[slot].push(element);
      const next = SLOTS.slice(SLOTS.indexOf(slot) + 1).flatMap((s) => slots[s]).find((e) => e.parentNode === root);
      root.insertBefore(element, next ?? null);
      return element;
    },
    /** Test hook: root.dataset[key] = ms (now by default); nothing in the shipped bundle. */
    stamp: (key, ms) => hooks.stamp(root, key, ms),
    /** A browser -> kernel message, checked against the protocol (a wrong one throws). */
    send: (kind, fields, buffers) => protocol.send(kind, fields, buffers),
    /** fn(msg, buffers) for each kernel -> browser message of `kind`. */
    on(kind, fn) {
      cleanups.push(protocol.on(kind, fn));
    },
    /** fn() whenever any of the model `traits` changes. */
    watch(traits, fn) {
      for (const trait of [].concat(traits)) {
        const ev = `change:${trait}`;
        model.on(ev, fn);
        cleanups.push(() => model.off(ev, fn));
      }
    },
    /** fn(...args) on the controller's `event`; fn's return values are collected by emit. */
    listen(event, fn) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(fn);
    },
    /** Call the listeners of `event`; resolves when every promise they returned has (undefined if none did). */
    emit(event, ...args) {
      const waits = (listeners.get(event) || []).map((fn) => fn(...args)).filter((r) => r && typeof r.then === 'function');
      return waits.length ? Promise.all(waits) : undefined;
    },
    /** A user action ({ kind, ... }, python_line.js) for the panels that show or record it. */
    act: (action) => ctrl.emit('action', action),
    onDestroy: (fn) => cleanups.push(fn),

    /** A ScatterView in `box`, linked to the selection, hover and the other views. */
    addView(box, opts = {}) {
      const view = new ScatterView(box, { ...opts, theme: state.theme, performance: state.performance, debug: hooks.enabled });
      view.opts.onSelect = (indices) => {
        const ack = ctrl.selection.fromView(view, indices);
        if (ack) ctrl.act({ kind: 'select', indices });
        return ack;
      };
      view.opts.onHover = (index, mouse) => {
        for (const v of viewList) if (v !== view) v.hover(index);
        ctrl.emit('hover', index, view, mouse);
      };
      view.selection = Uint32Array.from(ctrl.selection.current);
      viewList.push(view);
      cleanups.push(() => view.destroy());
      return view;
    },

    /** Decode the drawn points from the model into state.points; returns their positions. */
    readPoints() {
      const pts = state.points;
      const xy = decodeFloat32(model.get('positions'));
      pts.n = xy.length >> 1;
      pts.codes = decodeCodes(model.get('category'), pts.n);
      if (pts.modality.length !== pts.n) pts.modality = new Uint8Array(pts.n);
      const m = decodeUint8(model.get('modality'));
      if (m.length === pts.n) pts.modality = m;
      pts.textCode = (model.get('modality_names') || []).indexOf('text');
      return xy;
    },
    setMode(mode) {
      state.mode = mode;
      for (const v of viewList) v.setMouseMode(mode);
      ctrl.emit('mode', mode);
    },
    toggleDim() {
      state.dim = !state.dim;
      for (const v of viewList) v.setDim(state.dim);
      ctrl.emit('dim', state.dim);
    },
    clearSelection() {
      if (ctrl.selection.current.length) ctrl.act({ kind: 'clear' });
      ctrl.selection.fromView(null, new Uint32Array(0));
    },
    /** Bring the status, gallery and root data attributes up to date with the selection; resolves when the
     * panels that fetch for it (the gallery) have shown it. */
    selectionChanged() {
      root.dataset.selected = String(ctrl.selection.current.length);
      return ctrl.emit('selection', ctrl.selection.current);
    },
  };

  // ---------- the root, its size and theme
  slots.views.push(viewsRow);
  root.append(viewsRow);
  const setHeight = () => root.style.setProperty('--mc-height', `${model.get('height') || 420}px`);
  setHeight();
  ctrl.watch('height', setHeight);
  el.appendChild(root);
  hideRerunNoteWhenAttached(el);
  hooks.stamp(root, 'renderStartMs', renderStartMs);
  root.classList.toggle('mc-dark', state.theme.dark);
  cleanups.push(watchTheme(el, state.theme, (t) => {
    state.theme = t;
    root.classList.toggle('mc-dark', t.dark);
    for (const v of viewList) v.setTheme(t);
  }));
  state.performance = (decodeFloat32(model.get('positions')).length >> 1) > (model.get('performance_threshold') ?? 500000);

  // ---------- selection, shared by every view and Python's `selected`
  ctrl.selection = createSelection(model, { views: ctrl.views, onChange: () => ctrl.selectionChanged(), probe: hooks.probe(root) });
  ctrl.watch('selected', () => ctrl.selection.fromModel());
  ctrl.on('ack_selected', (msg) => ctrl.selection.acknowledged(msg.count));

  // ---------- what every view shows: colours, style, sets, labels
  const recolour = () => {
    // points added (Chorus.augment): the positions' own change redraws them with their codes
    const pos = model.get('positions');
    const bytes = Array.isArray(pos) ? pos.reduce((a, c) => a + c.byteLength, 0) : (pos?.byteLength ?? 0);
    if (bytes / 8 !== state.points.n) return;
    state.points.codes = decodeCodes(model.get('category'), state.points.n);
    for (const v of viewList) {
      v.setStyle({ nCategories: ctrl.nCategories() });
      v.setCodes(state.points.codes);
    }
    ctrl.emit('codes');
  };
  const applyStyle = () => {
    const size = model.get('point_size');
    const opacity = model.get('opacity');
    for (const v of viewList) v.setStyle({ pointSize: size, opacity });
    ctrl.emit('style', size, opacity);
  };
  const updateSets = () => {
    const entries = setEntries(model.get('named_sets'));
    for (const v of viewList) v.setSets(entries);
    ctrl.emit('sets', entries);
  };
  const updateLabels = () => {
    const labels = (model.get('point_labels') || []).map(([index, text]) => ({ index, text }));
    for (const v of viewList) v.setLabels(labels);
  };
  ctrl.applyStyle = applyStyle;
  ctrl.updateSets = updateSets;
  ctrl.watch('category', recolour);
  ctrl.watch(['point_size', 'opacity'], applyStyle);
  ctrl.watch('named_sets', updateSets);
  ctrl.watch('point_labels', updateLabels);

  const onCustom = (msg, buffers) => protocol.dispatch(msg, buffers);
  model.on('msg:custom', onCustom);
  cleanups.push(() => model.off('msg:custom', onCustom));

  /** After every panel is mounted: the first state, then (once laid out) the first frame. */
  ctrl.start = () => {
    ctrl.readPoints();
    applyStyle();
    ctrl.emit('start');
    // wait for layout so the canvases have a size, then draw
    requestAnimationFrame(() => {
      for (const v of viewList) v.resize();
      ctrl.emit('first-draw');
      updateSets();
      updateLabels();
    });
    cleanups.push(hooks.register(root, { root, model, ctrl, get proj() { return viewList[0]; }, get axis() { return viewList[1] ?? null; } }));
  };
  ctrl.destroy = () => {
    for (const fn of cleanups.splice(0).reverse()) fn();
  };
  return ctrl;
}
