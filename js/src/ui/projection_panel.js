// Projection view panel: title, WebGL canvas box, category legend and the "busy" indicator.
import { h } from '../dom.js';
import { renderLegend } from '../legend.js';

export function createProjectionPanel() {
  const title = h('div', { class: 'mc-view-title mc-proj-title' });
  const canvasBox = h('div', { class: 'mc-canvas-box' });
  const legend = h('div', { class: 'mc-legend', onclick: () => legend.classList.toggle('mc-legend-collapsed') });
  const busy = h('div', { class: 'mc-busy', role: 'status' });
  const el = h('div', { class: 'mc-view mc-proj' }, title, canvasBox, legend, busy);
  return {
    el,
    canvasBox,
    setMethod(method) {
      title.textContent = method ? `Projection: ${method}` : 'Projection';
    },
    /** Legend of the category codes present; `heading` is the colour-by key. */
    setLegend(heading, names, codes) {
      renderLegend(legend, heading, names, codes, { max: 8 });
    },
    /** Shows `text` over the view while Python works (a method switch, an alignment round); '' hides it. */
    setBusy(text) {
      busy.textContent = text;
      busy.style.display = text ? 'block' : 'none';
    },
  };
}
