// Toolbar: projection method buttons, lasso/pan mode, clear, reset view, colour-by, point size and opacity;
// plus the keyboard shortcuts of the same actions.
import { h } from '../dom.js';

/**
 * handlers: { onMode(mode), onClear(), onReset(), onStyle() }. Method and colour choices go to Python as
 * messages; size and opacity are synced traits (onStyle applies them to the views).
 */
export function createToolbar(model, { onMode, onClear, onReset, onStyle }) {
  const methodGroup = h('div', { class: 'mc-group', role: 'group', 'aria-label': 'projection method' });
  const modeLasso = h('button', { class: 'mc-btn mc-mode-lasso', 'aria-pressed': 'true', title: 'Lasso select (L); shift adds, alt subtracts', text: 'Lasso', onclick: () => onMode('lasso') });
  const modePan = h('button', { class: 'mc-btn mc-mode-pan', 'aria-pressed': 'false', title: 'Pan and zoom (P)', text: 'Pan', onclick: () => onMode('pan') });
  const clearBtn = h('button', { class: 'mc-btn mc-clear', title: 'Clear the selection (Esc)', text: 'Clear', onclick: () => onClear() });
  const resetBtn = h('button', { class: 'mc-btn mc-reset', title: 'Reset zoom', text: 'Reset view', onclick: () => onReset() });
  const colorSel = h('select', { class: 'mc-color-by', 'aria-label': 'colour by' });
  const sizeIn = h('input', { class: 'mc-size', type: 'range', min: '1', max: '20', step: '0.5', 'aria-label': 'point size' });
  const opacityIn = h('input', { class: 'mc-opacity', type: 'range', min: '0.05', max: '1', step: '0.05', 'aria-label': 'opacity' });
  const el = h('div', { class: 'mc-toolbar', role: 'toolbar', 'aria-label': 'ModalChorus tools' },
    methodGroup,
    h('div', { class: 'mc-group' }, modeLasso, modePan, clearBtn, resetBtn),
    h('label', { class: 'mc-lbl' }, 'colour ', colorSel),
    h('label', { class: 'mc-lbl' }, 'size ', sizeIn),
    h('label', { class: 'mc-lbl' }, 'opacity ', opacityIn),
  );

  colorSel.addEventListener('change', () => model.send({ type: 'color_by', key: colorSel.value }));
  const syncTrait = (input, trait) => input.addEventListener('input', () => {
    model.set(trait, parseFloat(input.value));
    model.save_changes();
    onStyle();
  });
  syncTrait(sizeIn, 'point_size');
  syncTrait(opacityIn, 'opacity');

  return {
    el,
    showMode(mode) {
      modeLasso.setAttribute('aria-pressed', String(mode === 'lasso'));
      modePan.setAttribute('aria-pressed', String(mode === 'pan'));
    },
    updateMethods() {
      const method = model.get('method');
      methodGroup.replaceChildren(...(model.get('methods') || []).map((m) => h('button', {
        class: 'mc-btn mc-method', 'data-method': m, 'aria-pressed': String(m === method), text: m,
        onclick: () => {
          if (m !== model.get('method')) model.send({ type: 'method', method: m });
        },
      })));
    },
    updateColorOptions() {
      const opts = model.get('color_options') || [];
      colorSel.replaceChildren(...opts.map((o) => h('option', { value: o, text: o })));
      colorSel.value = model.get('color_by') || '';
      colorSel.disabled = opts.length < 2;
    },
    showStyle(size, opacity) {
      sizeIn.value = String(size);
      opacityIn.value = String(opacity);
    },
  };
}

/** Keys on the focused widget: L lasso, P pan, Esc clears the selection (not while typing in a field). */
export function bindShortcuts(root, { onMode, onClear }) {
  const onKey = (ev) => {
    if (ev.target instanceof HTMLInputElement) return;
    if (ev.key === 'l' || ev.key === 'L') onMode('lasso');
    else if (ev.key === 'p' || ev.key === 'P') onMode('pan');
    else if (ev.key === 'Escape') onClear();
  };
  root.addEventListener('keydown', onKey);
}
