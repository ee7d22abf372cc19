// anywidget entry: render({ model, el }) for ScatterWidget (one view) and Chorus (projection view +
// concept-axis view + selection gallery + named sets + round history + alignment report + Python line +
// status line). All point arrays arrive as binary buffers. The styles are widget.css, served by the Python
// side as anywidget's _css.
import { decodeCodes, decodeFloat32, decodeUint32, decodeUint8 } from './buffers.js';
import { createProbe } from './debug.js';
import { h } from './dom.js';
import { createSelection } from './selection.js';
import { pageTheme, watchTheme } from './theme.js';
import { axisTitles, createAxisPanel } from './ui/axis_panel.js';
import { exportPng } from './export.js';
import { pythonLine } from './python_line.js';
import { createAugmentPanel } from './ui/augment_panel.js';
import { createCodeLine } from './ui/code_line.js';
import { createGallery } from './ui/gallery.js';
import { createHistoryStrip } from './ui/history_strip.js';
import { installDensity } from './ui/density.js';
import { createNotice } from './ui/notice.js';
import { hideRerunNoteWhenAttached } from './ui/rerun_note.js';
import { createSearchBox } from './ui/search_box.js';
import { createProjectionPanel } from './ui/projection_panel.js';
import { createReportPanel } from './ui/report_panel.js';
import { createSetsPanel, setEntries } from './ui/sets_panel.js';
import { createStatus } from './ui/status.js';
import { bindShortcuts, createToolbar } from './ui/toolbar.js';
import { createTooltip } from './ui/tooltip.js';
import { trailSegmentsFromData } from './trails.js';
import { ScatterView } from './view.js';

function render({ model, el }) {
  const renderStartMs = Date.now();
  const chorus = model.get('view_mode') === 'chorus';
  // data-lm-suppress-shortcuts: JupyterLab leaves the widget's own keys (L, P, D, U, /, Esc) to it
  const root = h('div', { class: 'mc-root', tabindex: '0', 'data-lm-suppress-shortcuts': 'true' });
  const setHeight = () => root.style.setProperty('--mc-height', `${model.get('height') || 420}px`);
  setHeight();
  el.appendChild(root);
  hideRerunNoteWhenAttached(el);
  const probe = createProbe(root);
  probe.stamp('renderStartMs', renderStartMs);

  // per-point state of the drawn points, shared by both views, the tooltip and the status line
  const pts = { n: 0, codes: new Uint8Array(0), modality: new Uint8Array(0), textCode: -1 };
  const nCategories = () => Math.max(1, (model.get('category_names') || []).length);
  let proj = null;
  let axis = null;
  const views = () => (axis ? [proj, axis] : [proj]);

  // ---------- layout ----------
  const setMode = (mode) => {
    toolbar.showMode(mode);
    for (const v of views()) v.setMouseMode(mode);
  };
  const code = chorus ? createCodeLine() : null;
  const act = (action) => code?.show(pythonLine(action));
  const clear = () => {
    if (selection.current.length) act({ kind: 'clear' });
    selection.fromView(null, new Uint32Array(0));
  };
  let dim = false;
  const toggleDim = () => {
    dim = !dim;
    toolbar.showDim(dim);
    for (const v of views()) v.setDim(dim);
  };
  const exportViews = (request) => {
    const url = exportPng(views(), { background: theme.background });
    if (request) model.send({ type: 'png', request, data: url });
    else {
      const a = h('a', { href: url, download: 'chorus.png' });
      a.click();
      act({ kind: 'export' });
    }
    probe.stamp('exportMs');
  };
  const toolbar = createToolbar(model, {
    onMode: setMode,
    onClear: clear,
    onReset: () => views().forEach((v) => v.resetView()),
    onStyle: applyStyle,
    onDim: toggleDim,
    onExport: () => exportViews(null),
    onAction: act,
  });
  const notice = createNotice();
  const projPanel = createProjectionPanel();
  const axisPanel = chorus ? createAxisPanel({ onPlace: (a, b) => { model.send({ type: 'concept_axis', a, b }); act({ kind: 'concept_axis', a, b }); } }) : null;
  const setsPanel = chorus
    ? createSetsPanel(model, { getSelection: () => selection.current, onPick: (idx) => selection.set(idx), onAction: act })
    : null;
  const augmentPanel = chorus ? createAugmentPanel(model, { onAction: (line) => code?.show(line) }) : null;
  const report = chorus ? createReportPanel() : null;
  const roundMsg = (type, k) => {
    model.send(k === undefined ? { type } : { type, k });
    act(k === undefined ? { kind: type } : { kind: type, k });
  };
  const historyStrip = chorus
    ? createHistoryStrip({ onGoto: (k) => roundMsg('goto', k), onUndo: () => roundMsg('undo'), onRedo: () => roundMsg('redo') })
    : null;
  const gallery = chorus ? createGallery(model, { onFocus: (i) => views().forEach((v) => v.focus(i)), probe }) : null;
  const searchBox = chorus
    ? createSearchBox({
      onSearch: (query) => {
        model.send({ type: 'search', query });
        act({ kind: 'search', query });
      },
      onSelect: (idx) => selection.set(idx),
      onClear: () => views().forEach((v) => v.setSearch(null)),
    })
    : null;
  const status = createStatus(model);
  const tooltip = createTooltip(model, root, () => pts);
  if (searchBox) toolbar.el.append(searchBox.el);
  root.append(
    toolbar.el,
    notice.el,
    h('div', { class: 'mc-views' }, projPanel.el, axisPanel?.el, gallery?.el),
    setsPanel?.el,
    augmentPanel?.el,
    historyStrip?.el,
    report?.el,
    code?.el,
    status.el,
    tooltip.el,
  );
  bindShortcuts(root, {
    onMode: setMode,
    onClear: clear,
    onDim: toggleDim,
    onUndo: () => { if (historyStrip && (model.get('history')?.current ?? 0) > 0) roundMsg('undo'); },
    onRedo: () => {
      const hist = model.get('history');
      if (historyStrip && hist && hist.current < (hist.chips || []).length) roundMsg('redo');
    },
    onSearch: () => searchBox?.input.focus(),
  });

  // ---------- selection and views ----------
  const selection = createSelection(model, { views, onChange: updateStatus, probe });
  let theme = pageTheme(el);
  root.classList.toggle('mc-dark', theme.dark);
  const nInit = decodeFloat32(model.get('positions')).length >> 1;
  const performance = nInit > (model.get('performance_threshold') ?? 500000);
  const makeView = (box, opts) => {
    const view = new ScatterView(box, { ...opts, theme, performance, debug: probe.enabled });
    view.opts.onSelect = (indices) => {
      const ack = selection.fromView(view, indices);
      if (ack) act({ kind: 'select', indices });
      return ack;
    };
    view.opts.onHover = (index, mouse) => {
      for (const v of views()) if (v !== view) v.hover(index);
      tooltip.hover(index, view, mouse);
    };
    return view;
  };
  proj = makeView(projPanel.canvasBox, { keepAspect: true });
  if (axisPanel) axis = makeView(axisPanel.canvasBox, { keepAspect: false, axes: true });
  // a sharded set (scale.ShardChorus): density of every row under the sample, full-data lasso
  const density = model.get('total_rows') ? installDensity(model, proj) : null;
  const stopTheme = watchTheme(el, theme, (t) => {
    theme = t;
    root.classList.toggle('mc-dark', t.dark);
    for (const v of views()) v.setTheme(t);
  });

  const onSearchResult = (msg, buffers) => {
    const matches = buffers?.[0] ? decodeUint32(buffers[0]) : new Uint32Array(0);
    const nearest = buffers?.[1] ? decodeUint32(buffers[1]) : new Uint32Array(0);
    searchBox?.show(msg, matches, nearest);
    if (msg.error) return;
    proj.setSearch({ query: msg.query, matches, nearest, xy: msg.query_xy });
    axis?.setSearch({ query: msg.query, matches, nearest, xy: msg.axis_xy });
    root.dataset.searchNearest = Array.from(nearest).join(',');
    probe.stamp('searchMs');
  };
  // A round's trails come before its positions (the points that moved most): drawn, and a frame painted with
  // them, before the positions of every point are uploaded (seconds at a million software-rendered points).
  let earlyTrails = null;
  let earlyRound = null; // the kernel's trails of the round on its way: { index, oldXY, newXY, stats }
  const afterPaint = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const showEarlyTrails = (msg, buffers) => {
    if (!buffers || buffers.length < 3) return;
    earlyRound = { index: decodeUint32(buffers[0]), oldXY: decodeFloat32(buffers[1]), newXY: decodeFloat32(buffers[2]), stats: msg };
    if (!proj.transform) return;
    const { index, oldXY, newXY, stats } = earlyRound;
    const count = proj.startTrails(trailSegmentsFromData(index, oldXY, newXY, proj.transform, {}, stats));
    earlyTrails = afterPaint().then(() => {
      root.dataset.trails = String(count);
      probe.stamp('trailsMs');
      earlyTrails = null;
    });
  };
  const onCustom = (msg, buffers) => {
    const type = msg?.type;
    if (type === 'ack_selected') selection.acknowledged(msg.count);
    else if (type === 'gallery') gallery?.onMessage(msg, buffers);
    else if (type === 'sets_applied' || type === 'sets_refused') setsPanel?.onMessage(msg);
    else if (type === 'search') onSearchResult(msg, buffers);
    else if (type === 'augment') augmentPanel?.onMessage(msg);
    else if (type === 'round_trails') showEarlyTrails(msg, buffers);
    else if (type === 'round_drawn') {
      const early = earlyRound;
      earlyRound = null;
      proj.showTrails(early).then((count) => {
        root.dataset.trails = String(count);
        probe.stamp(early ? 'trailsExactMs' : 'trailsMs');
      });
    } else if (type === 'export_png') exportViews(String(msg.request));
    else tooltip.onMessage(msg, buffers);
  };
  model.on('msg:custom', onCustom);

  // ---------- model -> views ----------
  function readPoints() {
    const xy = decodeFloat32(model.get('positions'));
    pts.n = xy.length >> 1;
    pts.codes = decodeCodes(model.get('category'), pts.n);
    if (pts.modality.length !== pts.n) pts.modality = new Uint8Array(pts.n);
    const m = decodeUint8(model.get('modality'));
    if (m.length === pts.n) pts.modality = m;
    pts.textCode = (model.get('modality_names') || []).indexOf('text');
    return xy;
  }

  function drawProjection(animate) {
    const nBefore = pts.n;
    const xy = readPoints();
    root.dataset.n = String(pts.n);
    proj.setStyle({ nCategories: nCategories() });
    const p = proj.setPoints(xy, pts.codes, pts.modality, { animate, textCode: pts.textCode, duration: model.get('animate_ms') });
    // the transition starts on the next frame: stamp when the first new frame is drawn
    p.then(() => {
      probe.stamp(animate ? 'positionsMs' : 'firstFrameMs');
      if (!animate) probe.stamp('positionsMs');
      root.dataset.ready = '1';
      updateLegend();
      updateStatus();
      if (pts.n !== nBefore) updateSets(); // sets naming the added points
    });
    return p;
  }

  function drawAxis(animate) {
    if (!axis) return;
    const xy = decodeFloat32(model.get('axis_positions'));
    const placed = xy.length > 0 && xy.length >> 1 === pts.n;
    axisPanel.setPlaced(placed);
    if (!placed) return;
    axis.setAxisTitles(axisTitles(model.get('axis_titles') || {}));
    axis.setStyle({ nCategories: nCategories() });
    axis.setPoints(xy, pts.codes, pts.modality, { animate, textCode: pts.textCode, duration: model.get('animate_ms') })
      .then(() => probe.stamp('axisMs'));
  }

  function recolour() {
    // points added (Chorus.augment): the positions' own change redraws them with their codes
    const pos = model.get('positions');
    const bytes = Array.isArray(pos) ? pos.reduce((a, c) => a + c.byteLength, 0) : (pos?.byteLength ?? 0);
    if (bytes / 8 !== pts.n) return;
    pts.codes = decodeCodes(model.get('category'), pts.n);
    for (const v of views()) {
      v.setStyle({ nCategories: nCategories() });
      v.setCodes(pts.codes);
    }
    updateLegend();
    tooltip.clearCache();
  }

  function applyStyle() {
    const size = model.get('point_size');
    const opacity = model.get('opacity');
    toolbar.showStyle(size, opacity);
    for (const v of views()) v.setStyle({ pointSize: size, opacity });
  }

  function updateLegend() {
    projPanel.setLegend(model.get('color_by') || '', model.get('category_names') || [], pts.codes);
  }

  let galleryOf = null;
  let galleryShown;
  function updateStatus() {
    status.update(pts.n, selection.current, pts.modality);
    root.dataset.selected = String(selection.current.length);
    if (gallery && galleryOf !== selection.current) {
      galleryOf = selection.current;
      galleryShown = gallery.selectionChanged(selection.current.length);
    }
    return galleryShown;
  }

  function updateReport() {
    report?.update(model.get('report'));
    historyStrip?.update(model.get('history'));
    probe.stamp('reportMs');
  }

  function updateMethods() {
    toolbar.updateMethods();
    const method = model.get('method');
    root.dataset.method = method || '';
    projPanel.setMethod(method);
  }

  function updateSets() {
    const entries = setEntries(model.get('named_sets'));
    for (const v of views()) v.setSets(entries);
    setsPanel?.render(entries);
  }

  function updateLabels() {
    const labels = (model.get('point_labels') || []).map(([index, text]) => ({ index, text }));
    for (const v of views()) v.setLabels(labels);
  }

  function updateNotice() {
    const text = model.get('sample_notice') || '';
    notice.setText(text);
    root.dataset.sampled = text ? '1' : '0';
    updateStatus();
  }

  function updateBusy() {
    const text = model.get('busy') || '';
    projPanel.setBusy(text);
    root.dataset.busy = text ? '1' : '0';
  }

  const handlers = {
    'change:positions': () => (earlyTrails ? earlyTrails.then(() => drawProjection(true)) : drawProjection(true)),
    'change:category': recolour,
    'change:category_names': updateLegend,
    'change:color_by': () => {
      toolbar.updateColorOptions();
      updateLegend();
    },
    'change:color_options': () => toolbar.updateColorOptions(),
    'change:selected': () => selection.fromModel(),
    'change:named_sets': updateSets,
    'change:axis_positions': () => drawAxis(true),
    'change:axis_titles': () => drawAxis(false),
    'change:point_size': applyStyle,
    'change:opacity': applyStyle,
    'change:method': () => {
      updateMethods();
      updateStatus();
    },
    'change:methods': updateMethods,
    'change:status': updateStatus,
    'change:report': updateReport,
    'change:history': updateReport,
    'change:point_labels': updateLabels,
    'change:busy': updateBusy,
    'change:sample_notice': updateNotice,
    'change:height': setHeight,
  };
  for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);

  // ---------- first draw ----------
  readPoints();
  updateMethods();
  toolbar.updateColorOptions();
  applyStyle();
  updateBusy();
  updateNotice();
  updateReport();
  for (const v of views()) v.selection = Uint32Array.from(selection.current);
  // wait for layout so the canvas has a size, then draw
  requestAnimationFrame(() => {
    for (const v of views()) v.resize();
    drawProjection(false);
    drawAxis(false);
    updateSets();
    updateLabels();
  });

  const unregister = probe.register({ root, model, proj, axis });

  return () => {
    for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn);
    model.off('msg:custom', onCustom);
    stopTheme();
    density?.destroy();
    for (const v of views()) v.destroy();
    unregister();
  };
}

export default { render };
