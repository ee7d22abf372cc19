// anywidget entry: render({ model, el }) for ScatterWidget (one view) and Chorus (projection view +
// concept-axis view + named sets + status line). All point arrays arrive as binary buffers.
import { decodeCodes, decodeFloat32, decodeUint8, decodeUint32, encodeIndices, sameIndices } from './buffers.js';
import { luminance, setColor, themeColors } from './colors.js';
import { renderLegend } from './legend.js';
import { countByCode } from './lasso.js';
import { ScatterView, SELECTION_COLOR } from './view.js';
import { CSS } from './style.js';

const registry = (globalThis.__modalchorus = globalThis.__modalchorus || []);

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function isDarkPage(el) {
  const body = document.body;
  if (body?.dataset?.jpThemeLight === 'false') return true;
  if (body?.dataset?.jpThemeLight === 'true') return false;
  if (body?.classList?.contains('vscode-dark')) return true;
  let node = el;
  while (node && node !== document.documentElement) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && !/rgba\(0, 0, 0, 0\)|transparent/.test(bg)) return luminance(bg) < 0.4;
    node = node.parentElement;
  }
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

function ensureStyle() {
  if (document.getElementById('modalchorus-style')) return;
  const s = document.createElement('style');
  s.id = 'modalchorus-style';
  s.textContent = CSS;
  document.head.appendChild(s);
}

function decodeSets(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw || {})) out[k] = decodeUint32(v);
  return out;
}

/** Report dict -> rows: {name, before, after} for x_before/x_after pairs or {before, after} dicts, else {name, single}. */
export function reportRows(r) {
  const fmt = (x) => {
    if (typeof x === 'number') return Number.isInteger(x) ? String(x) : Math.abs(x) < 10 ? x.toFixed(3) : x.toFixed(1);
    if (Array.isArray(x)) return x.length > 6 ? `(${x.length} values)` : x.map(fmt).join(', ');
    if (x && typeof x === 'object') return Object.keys(x).length > 4 ? `(${Object.keys(x).length} entries)` : JSON.stringify(x);
    return String(x ?? '');
  };
  const rows = [];
  const seen = new Set();
  for (const k of Object.keys(r)) {
    if (seen.has(k)) continue;
    const v = r[k];
    const m = /^(.*)_(before|after)$/.exec(k);
    if (m) {
      const base = m[1];
      seen.add(`${base}_before`);
      seen.add(`${base}_after`);
      rows.push({ name: base, before: fmt(r[`${base}_before`]), after: fmt(r[`${base}_after`]) });
    } else if (v && typeof v === 'object' && !Array.isArray(v) && ('before' in v || 'after' in v)) {
      rows.push({ name: k, before: fmt(v.before), after: fmt(v.after) });
    } else {
      rows.push({ name: k, single: fmt(v) });
    }
  }
  return rows;
}

function render({ model, el }) {
  const renderStartMs = Date.now();
  ensureStyle();
  const chorus = model.get('view_mode') === 'chorus';
  const root = h('div', { class: 'mc-root', tabindex: '0' });
  root.style.setProperty('--mc-height', `${model.get('height') || 420}px`);
  el.appendChild(root);
  root.dataset.renderStartMs = String(renderStartMs);

  // ---------- toolbar ----------
  const toolbar = h('div', { class: 'mc-toolbar', role: 'toolbar', 'aria-label': 'ModalChorus tools' });
  const methodGroup = h('div', { class: 'mc-group', role: 'group', 'aria-label': 'projection method' });
  const modeLasso = h('button', { class: 'mc-btn mc-mode-lasso', 'aria-pressed': 'true', title: 'Lasso select (L); shift adds, alt subtracts', text: 'Lasso' });
  const modePan = h('button', { class: 'mc-btn mc-mode-pan', 'aria-pressed': 'false', title: 'Pan and zoom (P)', text: 'Pan' });
  const clearBtn = h('button', { class: 'mc-btn mc-clear', title: 'Clear the selection (Esc)', text: 'Clear' });
  const resetBtn = h('button', { class: 'mc-btn mc-reset', title: 'Reset zoom', text: 'Reset view' });
  const colorSel = h('select', { class: 'mc-color-by', 'aria-label': 'colour by' });
  const sizeIn = h('input', { class: 'mc-size', type: 'range', min: '1', max: '20', step: '0.5', 'aria-label': 'point size' });
  const opacityIn = h('input', { class: 'mc-opacity', type: 'range', min: '0.05', max: '1', step: '0.05', 'aria-label': 'opacity' });
  toolbar.append(
    methodGroup,
    h('div', { class: 'mc-group' }, modeLasso, modePan, clearBtn, resetBtn),
    h('label', { class: 'mc-lbl' }, 'colour ', colorSel),
    h('label', { class: 'mc-lbl' }, 'size ', sizeIn),
    h('label', { class: 'mc-lbl' }, 'opacity ', opacityIn),
  );
  root.appendChild(toolbar);
  // shown when Python sends a sample of the points (more than max_points): how many, and what selections mean
  const notice = h('div', { class: 'mc-notice', role: 'note' });
  root.appendChild(notice);

  // ---------- views ----------
  const views = h('div', { class: 'mc-views' });
  const projBox = h('div', { class: 'mc-view mc-proj' });
  const projCanvas = h('div', { class: 'mc-canvas-box' });
  const legend = h('div', { class: 'mc-legend' });
  const busy = h('div', { class: 'mc-busy', role: 'status' });
  projBox.append(h('div', { class: 'mc-view-title mc-proj-title' }), projCanvas, legend, busy);
  views.appendChild(projBox);
  let axisBox = null, axisCanvas = null, axisForm = null;
  if (chorus) {
    axisBox = h('div', { class: 'mc-view mc-axis' });
    const inA = h('input', { class: 'mc-concept-a', type: 'text', placeholder: 'concept a (e.g. a dog)', 'aria-label': 'concept a' });
    const inB = h('input', { class: 'mc-concept-b', type: 'text', placeholder: 'concept b (e.g. a cat)', 'aria-label': 'concept b' });
    const go = h('button', { class: 'mc-btn mc-axis-go', type: 'submit', text: 'Place' });
    axisForm = h('form', { class: 'mc-axis-form' }, inA, h('span', { text: 'vs' }), inB, go);
    axisForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      model.send({ type: 'concept_axis', a: inA.value, b: inB.value });
    });
    axisCanvas = h('div', { class: 'mc-canvas-box' });
    axisBox.append(axisForm, axisCanvas, h('div', { class: 'mc-axis-empty', text: 'Name two concepts (text, a text point, or a set name) to place every point between them.' }));
    views.appendChild(axisBox);
  }
  root.appendChild(views);

  // ---------- sets panel, report, status, tooltip ----------
  const setsPanel = h('div', { class: 'mc-sets' });
  const report = h('div', { class: 'mc-report' });
  const status = h('div', { class: 'mc-status', role: 'status', 'aria-live': 'polite' });
  const tooltip = h('div', { class: 'mc-tooltip', role: 'tooltip' });
  if (chorus) root.append(setsPanel, report);
  root.append(status, tooltip);

  // ---------- state ----------
  let n = 0;
  let codes = new Uint8Array(0);
  let modality = new Uint8Array(0);
  let selection = new Uint32Array(0);
  let sets = {};
  let textCode = -1;
  const tooltipCache = new Map();
  const ackWaiters = [];
  let hoverIndex = -1;
  let hoverView = null;

  const theme = () => ({ ...themeColors(isDarkPage(el)), dark: isDarkPage(el) });
  let currentTheme = theme();
  root.classList.toggle('mc-dark', currentTheme.dark);

  const onSelect = (source) => (indices) => {
    if (sameIndices(indices, selection)) return;
    selection = indices;
    for (const v of allViews()) if (v !== source) v.select(indices);
    model.set('selected', encodeIndices(indices));
    model.save_changes();
    stamp('selectSentMs');
    if (source?.lastMouseUpMs) root.dataset.mouseUpMs = String(source.lastMouseUpMs);
    updateStatus();
    // resolves when the kernel acknowledges this selection (see ScatterWidget._ack_selected)
    const count = indices.length;
    return new Promise((resolve) => ackWaiters.push({ count, resolve }));
  };
  const onHover = (source) => (index, mouse) => {
    hoverIndex = index;
    hoverView = source;
    for (const v of allViews()) if (v !== source) v.hover(index);
    showTooltip(index, source, mouse);
    if (index >= 0 && !tooltipCache.has(index)) model.send({ type: 'hover', index });
  };

  const nInit = decodeFloat32(model.get('positions')).length >> 1;
  const performance = nInit > (model.get('performance_threshold') ?? 500000);
  const proj = new ScatterView(projCanvas, { keepAspect: true, theme: currentTheme, performance });
  proj.opts.onSelect = onSelect(proj);
  proj.opts.onHover = onHover(proj);
  let axis = null;
  if (chorus) {
    axis = new ScatterView(axisCanvas, { keepAspect: false, axes: true, theme: currentTheme, performance });
    axis.opts.onSelect = onSelect(axis);
    axis.opts.onHover = onHover(axis);
  }
  const allViews = () => (axis ? [proj, axis] : [proj]);

  // ---------- tooltip ----------
  function showTooltip(index, source, mouse) {
    if (index < 0) {
      tooltip.style.display = 'none';
      return;
    }
    const info = tooltipCache.get(index);
    tooltip.replaceChildren();
    if (info?.img) tooltip.appendChild(h('img', { class: 'mc-thumb', src: info.img, alt: `thumbnail of point ${index}` }));
    const mod = model.get('modality_names')[modality[index]] ?? '';
    tooltip.appendChild(h('div', { class: 'mc-tip-text', text: info?.text ?? `${mod} #${index}` }));
    const names = model.get('category_names');
    const label = info?.label ?? names[codes[index]];
    if (label != null) tooltip.appendChild(h('div', { class: 'mc-tip-label', text: `label: ${label}` }));
    if (info?.prediction != null) tooltip.appendChild(h('div', { class: 'mc-tip-pred', text: `predicted: ${info.prediction}` }));
    const boxR = source.container.getBoundingClientRect();
    const rootR = root.getBoundingClientRect();
    const pos = source.screenPosition(index) || mouse;
    tooltip.style.left = `${boxR.left - rootR.left + pos[0] + 12}px`;
    tooltip.style.top = `${boxR.top - rootR.top + pos[1] + 12}px`;
    tooltip.style.display = 'block';
    tooltip.dataset.index = String(index);
  }

  const onCustom = (msg, buffers) => {
    if (msg?.type === 'ack_selected') {
      const waiting = ackWaiters.splice(0);
      for (const w of waiting) w.resolve(msg.count);
      stamp('ackMs');
    } else if (msg?.type === 'tooltip') {
      let img = null;
      if (buffers?.length && msg.has_image) {
        const b = buffers[0];
        const bytes = b instanceof DataView ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b.buffer || b);
        img = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
      }
      tooltipCache.set(msg.index, { ...msg, img });
      if (hoverIndex === msg.index && hoverView) showTooltip(msg.index, hoverView, hoverView.mouse);
    } else if (msg?.type === 'tooltip_reset') {
      tooltipCache.clear();
    }
  };
  model.on('msg:custom', onCustom);

  // ---------- model -> views ----------
  function textCodeOf() {
    const names = model.get('modality_names') || [];
    return names.indexOf('text');
  }

  function readPoints() {
    const xy = decodeFloat32(model.get('positions'));
    n = xy.length >> 1;
    codes = decodeCodes(model.get('category'), n);
    modality = modality.length === n ? modality : new Uint8Array(n);
    const m = decodeUint8(model.get('modality'));
    if (m.length === n) modality = m;
    textCode = textCodeOf();
    return xy;
  }

  function stamp(key) {
    root.dataset[key] = String(Date.now());
  }

  function drawProjection(animate) {
    const xy = readPoints();
    root.dataset.n = String(n);
    proj.setStyle({ nCategories: Math.max(1, (model.get('category_names') || []).length) });
    const p = proj.setPoints(xy, codes, modality, { animate, textCode, duration: model.get('animate_ms') });
    // the transition starts on the next frame: stamp when the first new frame is drawn
    p.then(() => {
      stamp(animate ? 'positionsMs' : 'firstFrameMs');
      if (!animate) stamp('positionsMs');
      root.dataset.ready = '1';
      updateLegend();
      updateStatus();
    });
    return p;
  }

  function drawAxis(animate) {
    if (!axis) return;
    const xy = decodeFloat32(model.get('axis_positions'));
    const has = xy.length > 0 && xy.length >> 1 === n;
    axisBox.classList.toggle('mc-axis-has', has);
    if (!has) return;
    const t = model.get('axis_titles') || {};
    axis.setAxisTitles({ a: t.a || 'a', b: t.b || 'b', y: t.y || '' });
    axis.setStyle({ nCategories: Math.max(1, (model.get('category_names') || []).length) });
    axis.setPoints(xy, codes, modality, { animate, textCode, duration: model.get('animate_ms') }).then(() => stamp('axisMs'));
  }

  function applyStyle() {
    const size = model.get('point_size');
    const opacity = model.get('opacity');
    sizeIn.value = String(size);
    opacityIn.value = String(opacity);
    for (const v of allViews()) v.setStyle({ pointSize: size, opacity });
  }

  function updateLegend() {
    renderLegend(legend, model.get('color_by') || '', model.get('category_names') || [], codes, { max: 8 });
  }

  function updateStatus() {
    const names = model.get('modality_names') || [];
    const counts = countByCode(selection, modality, Math.max(1, names.length));
    const sel = names.length
      ? names.map((nm, k) => `${counts[k]} ${nm}${counts[k] === 1 ? '' : 's'}`).join(', ')
      : `${selection.length}`;
    const extra = model.get('status') || '';
    const method = model.get('method');
    const shown = model.get('sample_notice') ? ' shown (sampled)' : '';
    status.textContent = `${n.toLocaleString()} points${shown}${method ? ` \u00b7 ${method}` : ''} \u00b7 selected: ${sel}${extra ? ` \u00b7 ${extra}` : ''}`;
    root.dataset.selected = String(selection.length);
  }

  function updateMethods() {
    const methods = model.get('methods') || [];
    const method = model.get('method');
    methodGroup.replaceChildren();
    for (const m of methods) {
      const b = h('button', { class: 'mc-btn mc-method', 'data-method': m, 'aria-pressed': String(m === method), text: m });
      b.addEventListener('click', () => {
        if (m !== model.get('method')) model.send({ type: 'method', method: m });
      });
      methodGroup.appendChild(b);
    }
    root.dataset.method = method || '';
    projBox.querySelector('.mc-proj-title').textContent = method ? `Projection: ${method}` : 'Projection';
  }

  function updateColorOptions() {
    const opts = model.get('color_options') || [];
    colorSel.replaceChildren(...opts.map((o) => h('option', { value: o, text: o })));
    colorSel.value = model.get('color_by') || '';
    colorSel.disabled = opts.length < 2;
  }

  function updateSets() {
    sets = decodeSets(model.get('named_sets'));
    const names = Object.keys(sets);
    const entries = names.map((name, k) => ({ name, color: setColor(k), indices: sets[name] }));
    for (const v of allViews()) v.setSets(entries);
    if (!chorus) return;
    setsPanel.replaceChildren();
    const nameIn = h('input', { class: 'mc-set-name', type: 'text', placeholder: 'set name', 'aria-label': 'new set name' });
    const save = h('button', { class: 'mc-btn mc-set-save', text: 'Save selection as set' });
    save.addEventListener('click', () => {
      const name = nameIn.value.trim() || `set ${names.length + 1}`;
      const next = { ...model.get('named_sets') };
      next[name] = encodeIndices(selection);
      model.set('named_sets', next);
      model.save_changes();
      updateSets();
    });
    setsPanel.append(h('span', { class: 'mc-sets-title', text: 'Sets:' }));
    for (const e of entries) {
      const row = h('span', { class: 'mc-set', 'data-set': e.name });
      const sw = h('span', { class: 'mc-swatch mc-ring' });
      sw.style.borderColor = e.color;
      const pick = h('button', { class: 'mc-btn mc-set-select', title: `select the points of "${e.name}"`, text: `${e.name} (${e.indices.length})` });
      pick.addEventListener('click', () => {
        const idx = e.indices;
        selection = Uint32Array.from(idx);
        for (const v of allViews()) v.select(selection);
        model.set('selected', encodeIndices(selection));
        model.save_changes();
        updateStatus();
      });
      const del = h('button', { class: 'mc-btn mc-set-del', title: `delete set "${e.name}"`, 'aria-label': `delete set ${e.name}`, text: '\u00d7' });
      del.addEventListener('click', () => {
        const next = { ...model.get('named_sets') };
        delete next[e.name];
        model.set('named_sets', next);
        model.save_changes();
        updateSets();
      });
      row.append(sw, pick, del);
      setsPanel.appendChild(row);
    }
    setsPanel.append(nameIn, save);
  }

  function updateLabels() {
    const labels = (model.get('point_labels') || []).map(([index, text]) => ({ index, text }));
    proj.setLabels(labels);
    axis?.setLabels(labels);
  }

  function updateReport() {
    if (!chorus) return;
    report.replaceChildren();
    const rows = reportRows(model.get('report') || {});
    if (!rows.length) return;
    const table = h('table', { class: 'mc-report-table' });
    table.appendChild(h('tr', {}, h('th', { text: 'last alignment round' }), h('th', { text: 'before' }), h('th', { text: 'after' })));
    for (const r of rows) {
      if (r.single !== undefined) table.appendChild(h('tr', {}, h('td', { text: r.name }), h('td', { class: 'mc-single', colspan: '2', text: r.single })));
      else table.appendChild(h('tr', {}, h('td', { text: r.name }), h('td', { text: r.before }), h('td', { text: r.after })));
    }
    report.appendChild(table);
  }

  function applySelectionFromModel() {
    const s = decodeUint32(model.get('selected'));
    if (sameIndices(s, selection)) return;
    selection = Uint32Array.from(s);
    for (const v of allViews()) v.select(selection);
    updateStatus();
  }

  function updateNotice() {
    const text = model.get('sample_notice') || '';
    notice.textContent = text;
    notice.style.display = text ? 'block' : 'none';
    root.dataset.sampled = text ? '1' : '0';
    updateStatus();
  }

  function updateBusy() {
    const b = model.get('busy') || '';
    busy.textContent = b;
    busy.style.display = b ? 'block' : 'none';
    root.dataset.busy = b ? '1' : '0';
  }

  // ---------- toolbar behaviour ----------
  const setMode = (mode) => {
    modeLasso.setAttribute('aria-pressed', String(mode === 'lasso'));
    modePan.setAttribute('aria-pressed', String(mode === 'pan'));
    for (const v of allViews()) v.setMouseMode(mode);
  };
  modeLasso.addEventListener('click', () => setMode('lasso'));
  modePan.addEventListener('click', () => setMode('pan'));
  const clear = () => onSelect(null)(new Uint32Array(0));
  clearBtn.addEventListener('click', clear);
  resetBtn.addEventListener('click', () => allViews().forEach((v) => v.resetView()));
  colorSel.addEventListener('change', () => model.send({ type: 'color_by', key: colorSel.value }));
  sizeIn.addEventListener('input', () => {
    model.set('point_size', parseFloat(sizeIn.value));
    model.save_changes();
    applyStyle();
  });
  opacityIn.addEventListener('input', () => {
    model.set('opacity', parseFloat(opacityIn.value));
    model.save_changes();
    applyStyle();
  });
  root.addEventListener('mousedown', () => {
    tooltip.style.display = 'none';
  }, true);
  legend.addEventListener('click', () => legend.classList.toggle('mc-legend-collapsed'));
  root.addEventListener('keydown', (ev) => {
    if (ev.target instanceof HTMLInputElement) return;
    if (ev.key === 'l' || ev.key === 'L') setMode('lasso');
    else if (ev.key === 'p' || ev.key === 'P') setMode('pan');
    else if (ev.key === 'Escape') clear();
  });

  // ---------- wire model events ----------
  const handlers = {
    'change:positions': () => drawProjection(true),
    'change:category': () => {
      codes = decodeCodes(model.get('category'), n);
      for (const v of allViews()) {
        v.setStyle({ nCategories: Math.max(1, (model.get('category_names') || []).length) });
        v.setCodes(codes);
      }
      updateLegend();
      tooltipCache.clear();
    },
    'change:category_names': updateLegend,
    'change:color_by': () => {
      updateColorOptions();
      updateLegend();
    },
    'change:color_options': updateColorOptions,
    'change:selected': applySelectionFromModel,
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
    'change:point_labels': updateLabels,
    'change:busy': updateBusy,
    'change:sample_notice': updateNotice,
    'change:height': () => root.style.setProperty('--mc-height', `${model.get('height') || 420}px`),
  };
  for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);

  // theme changes (JupyterLab toggles data-jp-theme-light on <body>)
  const themeObserver = new MutationObserver(() => {
    const t = theme();
    if (t.dark === currentTheme.dark) return;
    currentTheme = t;
    root.classList.toggle('mc-dark', t.dark);
    for (const v of allViews()) v.setTheme(t);
  });
  themeObserver.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light', 'class'] });

  // ---------- first draw ----------
  updateMethods();
  updateColorOptions();
  applyStyle();
  updateBusy();
  updateNotice();
  updateReport();
  const first = readPoints();
  selection = decodeUint32(model.get('selected'));
  for (const v of allViews()) v.selection = Uint32Array.from(selection);
  // wait for layout so the canvas has a size, then draw
  requestAnimationFrame(() => {
    for (const v of allViews()) v.resize();
    void first;
    drawProjection(false);
    drawAxis(false);
    updateSets();
    updateLabels();
  });

  const entry = { root, model, proj, get axis() { return axis; }, selectionColor: SELECTION_COLOR };
  registry.push(entry);
  root.__modalchorus = entry;

  return () => {
    for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn);
    model.off('msg:custom', onCustom);
    themeObserver.disconnect();
    for (const v of allViews()) v.destroy();
    const i = registry.indexOf(entry);
    if (i >= 0) registry.splice(i, 1);
  };
}

export default { render };
