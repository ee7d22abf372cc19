// Concept-axis panel: the "concept a vs concept b" form, the axis view's canvas box and the empty-state hint.
import { h } from '../dom.js';

/** onPlace(a, b) is called when the form is submitted. */
export function createAxisPanel({ onPlace }) {
  const inA = h('input', { class: 'mc-concept-a', type: 'text', placeholder: 'concept a (e.g. a dog)', 'aria-label': 'concept a' });
  const inB = h('input', { class: 'mc-concept-b', type: 'text', placeholder: 'concept b (e.g. a cat)', 'aria-label': 'concept b' });
  const go = h('button', { class: 'mc-btn mc-axis-go', type: 'submit', text: 'Place' });
  const form = h('form', { class: 'mc-axis-form' }, inA, h('span', { text: 'vs' }), inB, go);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onPlace(inA.value, inB.value);
  });
  // Enter in either box places the axis (JupyterLab's notebook keeps Enter from submitting the form)
  for (const input of [inA, inB]) {
    input.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter') return;
      ev.preventDefault();
      ev.stopPropagation();
      onPlace(inA.value, inB.value);
    });
  }
  const canvasBox = h('div', { class: 'mc-canvas-box' });
  const hint = h('div', { class: 'mc-axis-empty', text: 'Name two concepts (text, a text point, or a set name) to place every point between them.' });
  const el = h('div', { class: 'mc-view mc-axis' }, form, canvasBox, hint);
  return {
    el,
    canvasBox,
    /** Whether an axis is placed (hides the hint, shows the canvas). */
    setPlaced(placed) {
      el.classList.toggle('mc-axis-has', placed);
    },
  };
}

/** Axis titles from the model's axis_titles dict, with the defaults the view shows. */
export function axisTitles(t = {}) {
  return { a: t.a || 'a', b: t.b || 'b', y: t.y || '' };
}
