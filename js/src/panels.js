// The built-in panels: each mountX(ctrl) builds one part of the widget from its ui/ factory, places it with
// ctrl.mount, and wires it to the model (ctrl.watch), the kernel's messages (ctrl.on / ctrl.send) and the
// controller's events (ctrl.listen): 'start' (first state), 'first-draw' (laid out), 'drawn' (positions drawn),
// 'selection', 'hover', 'codes', 'sets', 'style', 'mode', 'dim', 'action', 'line', 'export', 'key-undo',
// 'key-redo', 'key-search'. widget.js lists which panels each view mode has.
import { decodeCodes, decodeFloat32, decodeUint32 } from './buffers.js';
import { exportPng } from './export.js';
import { h } from './dom.js';
import { pythonLine } from './python_line.js';
import { trailRule, trailSegmentsFromData } from './trails.js';
import { createAugmentPanel } from './ui/augment_panel.js';
import { axisTitles, createAxisPanel } from './ui/axis_panel.js';
import { createCodeLine } from './ui/code_line.js';
import { installDensity } from './ui/density.js';
import { createGallery } from './ui/gallery.js';
import { createHistoryStrip } from './ui/history_strip.js';
import { createNotice } from './ui/notice.js';
import { createProjectionPanel } from './ui/projection_panel.js';
import { createReportPanel } from './ui/report_panel.js';
import { createSearchBox } from './ui/search_box.js';
import { createSetsPanel } from './ui/sets_panel.js';
import { createStatus } from './ui/status.js';
import { bindShortcuts, createToolbar } from './ui/toolbar.js';
import { createTooltip } from './ui/tooltip.js';

/** Method buttons, lasso / pan, clear, reset, dim, PNG, colour-by, size, opacity; and the keyboard shortcuts. */
export function mountToolbar(ctrl) {
  const views = ctrl.views;
  const toolbar = createToolbar(ctrl.port, {
    onMode: ctrl.setMode,
    onClear: ctrl.clearSelection,
    onReset: () => views().forEach((v) => v.resetView()),
    onStyle: ctrl.applyStyle,
    onDim: ctrl.toggleDim,
    onExport: () => ctrl.emit('export', null),
    onAction: ctrl.act,
  });
  ctrl.toolbar = toolbar; // the search box sits in it
  ctrl.mount(toolbar.el, 'toolbar');
  ctrl.listen('mode', (mode) => toolbar.showMode(mode));
  ctrl.listen('dim', (on) => toolbar.showDim(on));
  ctrl.listen('style', (size, opacity) => toolbar.showStyle(size, opacity));
  ctrl.watch(['method', 'methods'], () => toolbar.updateMethods());
  ctrl.watch(['color_by', 'color_options'], () => toolbar.updateColorOptions());
  ctrl.listen('start', () => {
    toolbar.updateMethods();
    toolbar.updateColorOptions();
  });
  bindShortcuts(ctrl.root, {
    onMode: ctrl.setMode,
    onClear: ctrl.clearSelection,
    onDim: ctrl.toggleDim,
    onUndo: () => ctrl.emit('key-undo'),
    onRedo: () => ctrl.emit('key-redo'),
    onSearch: () => ctrl.emit('key-search'),
  });
}

/** The sampling notice above the views. */
export function mountNotice(ctrl) {
  const notice = createNotice();
  ctrl.mount(notice.el, 'notice');
  const update = () => {
    const text = ctrl.model.get('sample_notice') || '';
    notice.setText(text);
    ctrl.root.dataset.sampled = text ? '1' : '0';
  };
  ctrl.watch('sample_notice', update);
  ctrl.listen('start', update);
}

/** The projection view: title, legend, busy note, and the map itself (the first view, ctrl.proj). */
export function mountProjection(ctrl) {
  const { model, root, state } = ctrl;
  const panel = createProjectionPanel();
  ctrl.mount(panel.el, 'views');
  const proj = ctrl.addView(panel.canvasBox, { keepAspect: true });
  ctrl.proj = proj;
  const updateLegend = () => panel.setLegend(model.get('color_by') || '', model.get('category_names') || [], state.points.codes);
  const updateMethod = () => {
    const method = model.get('method');
    root.dataset.method = method || '';
    panel.setMethod(method);
  };
  const updateBusy = () => {
    const text = model.get('busy') || '';
    panel.setBusy(text);
    root.dataset.busy = text ? '1' : '0';
  };
  const draw = (animate) => {
    const nBefore = state.points.n;
    const xy = ctrl.readPoints();
    root.dataset.n = String(state.points.n);
    proj.setStyle({ nCategories: ctrl.nCategories() });
    const pts = state.points;
    const p = proj.setPoints(xy, pts.codes, pts.modality, { animate, textCode: pts.textCode, duration: model.get('animate_ms') });
    // the transition starts on the next frame: stamp when the first new frame is drawn
    p.then(() => {
      ctrl.stamp(animate ? 'positionsMs' : 'firstFrameMs');
      if (!animate) ctrl.stamp('positionsMs');
      root.dataset.ready = '1';
      updateLegend();
      ctrl.emit('drawn');
      if (state.points.n !== nBefore) ctrl.updateSets(); // sets naming the added points
    });
    return p;
  };
  // a round's early trails are painted before its positions are uploaded (see mountRounds)
  ctrl.watch('positions', () => (state.round.drawing ? state.round.drawing.then(() => draw(true)) : draw(true)));
  ctrl.watch(['category_names', 'color_by'], updateLegend);
  ctrl.listen('codes', updateLegend);
  ctrl.watch('method', updateMethod);
  ctrl.watch('busy', updateBusy);
  ctrl.listen('start', () => {
    updateMethod();
    updateBusy();
  });
  ctrl.listen('first-draw', () => draw(false));
}

/** The concept-axis view: the "a vs b" form and a second map (Chorus). */
export function mountAxis(ctrl) {
  const { model, state } = ctrl;
  const panel = createAxisPanel({
    onPlace: (a, b) => {
      ctrl.send('concept_axis', { a, b });
      ctrl.act({ kind: 'concept_axis', a, b });
    },
  });
  ctrl.mount(panel.el, 'views');
  const axis = ctrl.addView(panel.canvasBox, { keepAspect: false, axes: true });
  const draw = (animate) => {
    const xy = decodeFloat32(model.get('axis_positions'));
    const placed = xy.length > 0 && xy.length >> 1 === state.points.n;
    panel.setPlaced(placed);
    if (!placed) return;
    const pts = state.points;
    axis.setAxisTitles(axisTitles(model.get('axis_titles') || {}));
    axis.setStyle({ nCategories: ctrl.nCategories() });
    axis.setPoints(xy, pts.codes, pts.modality, { animate, textCode: pts.textCode, duration: model.get('animate_ms') })
      .then(() => ctrl.stamp('axisMs'));
  };
  ctrl.watch('axis_positions', () => draw(true));
  ctrl.watch('axis_titles', () => draw(false));
  ctrl.listen('first-draw', () => draw(false));
}

/** The selection gallery beside the maps (Chorus): a page of the selection from the kernel. */
export function mountGallery(ctrl) {
  const gallery = createGallery(ctrl.port, {
    onFocus: (i) => ctrl.views().forEach((v) => v.focus(i)),
    probe: { stamp: (key) => ctrl.stamp(key) },
  });
  ctrl.mount(gallery.el, 'views');
  ctrl.on('gallery', (msg, buffers) => gallery.onMessage(msg, buffers));
  let shownFor = null;
  let shown;
  // resolves once the page of this selection is shown: the selection waits for it at large n
  const update = (current) => {
    if (shownFor !== current) {
      shownFor = current;
      shown = gallery.selectionChanged(current.length, ctrl.selection.unacknowledged);
    }
    return shown;
  };
  ctrl.listen('selection', update);
  ctrl.listen('start', () => update(ctrl.selection.current));
}

/** The search box in the toolbar (Chorus; mount after mountToolbar). */
export function mountSearch(ctrl) {
  const box = createSearchBox({
    onSearch: (query) => {
      ctrl.send('search', { query });
      ctrl.act({ kind: 'search', query });
    },
    onSelect: (idx) => ctrl.selection.set(idx),
    onClear: () => ctrl.views().forEach((v) => v.setSearch(null)),
  });
  ctrl.toolbar.el.append(box.el);
  ctrl.on('search', (msg, buffers) => {
    const matches = buffers?.[0] ? decodeUint32(buffers[0]) : new Uint32Array(0);
    const nearest = buffers?.[1] ? decodeUint32(buffers[1]) : new Uint32Array(0);
    box.show(msg, matches, nearest);
    if (msg.error) return;
    const [proj, axis] = ctrl.views();
    proj.setSearch({ query: msg.query, matches, nearest, xy: msg.query_xy });
    axis?.setSearch({ query: msg.query, matches, nearest, xy: msg.axis_xy });
    ctrl.root.dataset.searchNearest = Array.from(nearest).join(',');
    ctrl.stamp('searchMs');
  });
  ctrl.listen('key-search', () => box.input.focus());
}

/** A sharded set's density layer under the projection, and its full-data lasso (scale.ShardChorus). */
export function mountDensity(ctrl) {
  if (!ctrl.model.get('total_rows')) return;
  const density = installDensity(ctrl.port, ctrl.proj);
  ctrl.onDestroy(() => density.destroy());
}

/** The named sets (Chorus). */
export function mountSets(ctrl) {
  const panel = createSetsPanel(ctrl.port, {
    getSelection: () => ctrl.selection.current,
    onPick: (idx) => ctrl.selection.set(idx),
    onAction: ctrl.act,
  });
  ctrl.mount(panel.el, 'panels');
  ctrl.on('sets_applied', (msg) => panel.onMessage(msg));
  ctrl.on('sets_refused', (msg) => panel.onMessage(msg));
  ctrl.listen('sets', (entries) => panel.render(entries));
}

/** Add images and texts as points (Chorus). */
export function mountAugment(ctrl) {
  const panel = createAugmentPanel(ctrl.port, { onAction: (line) => ctrl.emit('line', line) });
  ctrl.mount(panel.el, 'panels');
  ctrl.on('augment', (msg) => panel.onMessage(msg));
}

/** One chip per alignment round, undo / redo / go to (Chorus). */
export function mountHistory(ctrl) {
  const { model } = ctrl;
  const ask = (kind, k) => {
    ctrl.send(kind, k === undefined ? {} : { k });
    ctrl.act(k === undefined ? { kind } : { kind, k });
  };
  const strip = createHistoryStrip({ onGoto: (k) => ask('goto', k), onUndo: () => ask('undo'), onRedo: () => ask('redo') });
  ctrl.mount(strip.el, 'panels');
  const update = () => strip.update(model.get('history'));
  ctrl.watch('history', update);
  ctrl.listen('start', update);
  ctrl.listen('key-undo', () => {
    if ((model.get('history')?.current ?? 0) > 0) ask('undo');
  });
  ctrl.listen('key-redo', () => {
    const hist = model.get('history');
    if (hist && hist.current < (hist.chips || []).length) ask('redo');
  });
}

/** The last round's figures (Chorus). */
export function mountReport(ctrl) {
  const report = createReportPanel({
    onStrength: (alpha, apply) => {
      ctrl.send('strength', { alpha, apply });
      if (apply) ctrl.act({ kind: 'strength', alpha });
    },
    onSelectRows: (rows) => {
      ctrl.selection.set(rows);
      ctrl.act({ kind: 'select', indices: Uint32Array.from(rows).sort() });
    },
  });
  ctrl.mount(report.el, 'panels');
  // the slider's preview: the figures at that alpha, and the points re-coloured by their predictions there
  ctrl.on('strength_preview', (msg, buffers) => {
    report.preview(msg.report);
    if (buffers && buffers.length) {
      const codes = decodeCodes(buffers[0], ctrl.state.points.n);
      ctrl.state.points.codes = codes;
      for (const v of ctrl.views()) v.setCodes(codes);
      ctrl.emit('codes');
    }
    ctrl.stamp('strengthMs');
  });
  const update = () => {
    report.update(ctrl.model.get('report'));
    ctrl.stamp('reportMs');
  };
  ctrl.watch(['report', 'history'], update);
  ctrl.listen('start', update);
}

/** The Python line of the last action, with a copy button (Chorus). */
export function mountCodeLine(ctrl) {
  const code = createCodeLine();
  ctrl.mount(code.el, 'panels');
  ctrl.listen('action', (action) => code.show(pythonLine(action)));
  ctrl.listen('line', (line) => code.show(line));
}

/** The status line: points, method, selected per modality, Python's status text. */
export function mountStatus(ctrl) {
  const { model, root, state } = ctrl;
  const status = createStatus(model);
  ctrl.mount(status.el, 'footer');
  const update = () => {
    status.update(state.points.n, ctrl.selection.current, state.points.modality);
    root.dataset.selected = String(ctrl.selection.current.length);
  };
  ctrl.watch(['method', 'status', 'sample_notice'], update);
  ctrl.listen('selection', () => {
    update();
  });
  ctrl.listen('drawn', update);
  ctrl.listen('start', update);
}

/** The hover tooltip; details come from the kernel ('hover' -> 'tooltip'). */
export function mountTooltip(ctrl) {
  const tooltip = createTooltip(ctrl.port, ctrl.root, () => ctrl.state.points);
  ctrl.mount(tooltip.el, 'footer');
  ctrl.listen('hover', (index, view, mouse) => tooltip.hover(index, view, mouse));
  ctrl.on('tooltip', (msg, buffers) => tooltip.onMessage(msg, buffers));
  ctrl.on('tooltip_reset', (msg) => tooltip.onMessage(msg));
  ctrl.listen('codes', () => tooltip.clearCache());
}

/** PNG of the views: downloaded from the toolbar, or sent to the kernel when it asks (Chorus.to_png). */
export function mountExport(ctrl) {
  const exportViews = (request) => {
    const url = exportPng(ctrl.views(), { background: ctrl.state.theme.background });
    if (request) ctrl.send('png', { request, data: url });
    else {
      h('a', { href: url, download: 'chorus.png' }).click();
      ctrl.act({ kind: 'export' });
    }
    ctrl.stamp('exportMs');
  };
  ctrl.listen('export', exportViews);
  ctrl.on('export_png', (msg) => exportViews(String(msg.request)));
}

/** A round's trails: drawn from the kernel's moved points before the new positions arrive, then again in the
 * frame the new positions are drawn in (Chorus). Which points: the protocol's trail rule (ctrl.protocol.trails). */
export function mountRounds(ctrl) {
  const { root, state } = ctrl;
  const rule = trailRule(ctrl.protocol.trails);
  const afterPaint = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  ctrl.on('round_trails', (msg, buffers) => {
    const early = { index: decodeUint32(buffers[0]), oldXY: decodeFloat32(buffers[1]), newXY: decodeFloat32(buffers[2]), stats: msg };
    state.round.early = early;
    const proj = ctrl.proj;
    if (!proj.transform) return;
    const count = proj.startTrails(trailSegmentsFromData(early.index, early.oldXY, early.newXY, proj.transform, rule, early.stats));
    state.round.drawing = afterPaint().then(() => {
      root.dataset.trails = String(count);
      ctrl.stamp('trailsMs');
      state.round.drawing = null;
    });
  });
  ctrl.on('round_drawn', () => {
    const early = state.round.early;
    state.round.early = null;
    ctrl.proj.showTrails(early, rule).then((count) => {
      root.dataset.trails = String(count);
      ctrl.stamp(early ? 'trailsExactMs' : 'trailsMs');
    });
  });
}
