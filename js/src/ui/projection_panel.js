// Projection view panel: title and category legend (a strip above the map), WebGL canvas box and the "busy" indicator.
import { h } from '../dom.js';
import { renderLegend } from '../legend.js';

export function createProjectionPanel() {
  const title = h('div', { class: 'mc-view-title mc-proj-title' });
  const canvasBox = h('div', { class: 'mc-canvas-box' });
  const legend = h('div', { class: 'mc-legend', onclick: () => legend.classList.toggle('mc-legend-collapsed') });
  const busy = h('div', { class: 'mc-busy', role: 'status' });
  // title and legend sit in a strip above the map, so they never cover points; a click collapses the legend
  const head = h('div', { class: 'mc-view-head' }, title, legend);
  const el = h('div', { class: 'mc-view mc-proj' }, head, canvasBox, busy);
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
