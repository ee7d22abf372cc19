// Toolbar: projection method buttons, lasso/pan mode, clear, reset view, dim-the-rest, PNG export, colour-by,
// point size and opacity; plus the keyboard shortcuts of the same actions.
import { h } from '../dom.js';

/**
 * handlers: { onMode(mode), onClear(), onReset(), onStyle(), onDim(), onExport(), onAction(action) }. Method
 * and colour choices go to Python as messages; size and opacity are synced traits (onStyle applies them to
 * the views); onAction({kind, ...}) gets every action for its Python line.
 */
export function createToolbar(model, { onMode, onClear, onReset, onStyle, onDim = () => {}, onExport = () => {}, onAction = () => {} }) {
  const methodGroup = h('div', { class: 'mc-group', role: 'group', 'aria-label': 'projection method' });
  const modeLasso = h('button', { class: 'mc-btn mc-mode-lasso', 'aria-pressed': 'true', title: 'Lasso select (L); shift adds, alt subtracts', text: 'Lasso', onclick: () => onMode('lasso') });
  const modePan = h('button', { class: 'mc-btn mc-mode-pan', 'aria-pressed': 'false', title: 'Pan and zoom (P)', text: 'Pan', onclick: () => onMode('pan') });
  const clearBtn = h('button', { class: 'mc-btn mc-clear', title: 'Clear the selection (Esc)', text: 'Clear', onclick: () => onClear() });
  const resetBtn = h('button', { class: 'mc-btn mc-reset', title: 'Reset zoom', text: 'Reset view', onclick: () => onReset() });
  const dimBtn = h('button', { class: 'mc-btn mc-dim', 'aria-pressed': 'false', title: 'Dim the points outside the selection (D)', text: 'Dim rest', onclick: () => onDim() });
  const pngBtn = h('button', { class: 'mc-btn mc-export', title: 'Download the views as a PNG image', text: 'PNG', onclick: () => onExport() });
  const colorSel = h('select', { class: 'mc-color-by', 'aria-label': 'colour by' });
  const sizeIn = h('input', { class: 'mc-size', type: 'range', min: '1', max: '20', step: '0.5', 'aria-label': 'point size' });
  const opacityIn = h('input', { class: 'mc-opacity', type: 'range', min: '0.05', max: '1', step: '0.05', 'aria-label': 'opacity' });
  const colorLabel = h('label', { class: 'mc-lbl mc-color-lbl' }, 'colour ', colorSel);
  const el = h('div', { class: 'mc-toolbar', role: 'toolbar', 'aria-label': 'ModalChorus tools' },
    methodGroup,
    h('div', { class: 'mc-group' }, modeLasso, modePan, clearBtn, resetBtn, dimBtn, pngBtn),
    colorLabel,
    h('label', { class: 'mc-lbl' }, 'size ', sizeIn),
    h('label', { class: 'mc-lbl' }, 'opacity ', opacityIn),
  );

  colorSel.addEventListener('change', () => {
    model.send({ type: 'color_by', key: colorSel.value });
    onAction({ kind: 'color_by', key: colorSel.value });
  });
  const syncTrait = (input, trait) => input.addEventListener('input', () => {
    model.set(trait, parseFloat(input.value));
    model.save_changes();
    onStyle();
    onAction({ kind: 'style', trait, value: parseFloat(input.value) });
  });
  syncTrait(sizeIn, 'point_size');
  syncTrait(opacityIn, 'opacity');

  return {
    el,
    showDim(on) {
      dimBtn.setAttribute('aria-pressed', String(on));
    },
    showMode(mode) {
      modeLasso.setAttribute('aria-pressed', String(mode === 'lasso'));
      modePan.setAttribute('aria-pressed', String(mode === 'pan'));
    },
    updateMethods() {
      const method = model.get('method');
      methodGroup.replaceChildren(...(model.get('methods') || []).map((m) => h('button', {
        class: 'mc-btn mc-method', 'data-method': m, 'aria-pressed': String(m === method), text: m,
        onclick: () => {
          if (m !== model.get('method')) {
            model.send({ type: 'method', method: m });
            onAction({ kind: 'method', method: m });
          }
        },
      })));
    },
    updateColorOptions() {
      const opts = model.get('color_options') || [];
      colorSel.replaceChildren(...opts.map((o) => h('option', { value: o, text: o })));
      colorSel.value = model.get('color_by') || '';
      colorSel.disabled = opts.length < 2;
      // no colour choices (a plain ScatterWidget): no empty menu
      colorLabel.style.display = opts.length ? '' : 'none';
    },
    showStyle(size, opacity) {
      sizeIn.value = String(size);
      opacityIn.value = String(opacity);
    },
  };
}

/** Keys on the focused widget (not while typing in a field): L lasso, P pan, Esc clears the selection,
 * D dims the rest, U undoes the last round, Shift+U redoes it, / goes to the search box. */
export function bindShortcuts(root, { onMode, onClear, onDim = () => {}, onUndo = () => {}, onRedo = () => {}, onSearch = () => {} }) {
  const onKey = (ev) => {
    const t = ev.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    let done = true;
    if (k === 'l' || k === 'L') onMode('lasso');
    else if (k === 'p' || k === 'P') onMode('pan');
    else if (k === 'Escape') onClear();
    else if (k === 'd' || k === 'D') onDim();
    else if (k === 'u') onUndo();
    else if (k === 'U') onRedo();
    else if (k === '/') onSearch();
    else done = false;
    if (done) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  };
  root.addEventListener('keydown', onKey);
}
