// Hover tooltip: text, label, prediction and (for images with a file) a thumbnail. Details come from Python
// on demand (a 'hover' message answered by 'tooltip') and are cached per point until 'tooltip_reset'.
import { h } from '../dom.js';

/** A PNG tooltip buffer (DataView, ArrayBuffer or typed array) as an object URL. */
export function pngUrl(b) {
  const bytes = b instanceof DataView ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b.buffer || b);
  return URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
}

/** root: the widget root (the tooltip is placed relative to it); points() -> { codes, modality }. */
export function createTooltip(model, root, points) {
  const el = h('div', { class: 'mc-tooltip', role: 'tooltip' });
  const cache = new Map();
  let hoverIndex = -1;
  let hoverView = null;

  const hide = () => {
    el.style.display = 'none';
  };

  function show(index, source, mouse) {
    if (index < 0) return hide();
    const info = cache.get(index);
    const { codes, modality } = points();
    const mod = model.get('modality_names')[modality[index]] ?? '';
    const label = info?.label ?? model.get('category_names')[codes[index]];
    const parts = [
      info?.img ? h('img', { class: 'mc-thumb', src: info.img, alt: `thumbnail of point ${index}` }) : null,
      h('div', { class: 'mc-tip-text', text: info?.text ?? `${mod} #${index}` }),
      label != null ? h('div', { class: 'mc-tip-label', text: `label: ${label}` }) : null,
      info?.prediction != null ? h('div', { class: 'mc-tip-pred', text: `predicted: ${info.prediction}` }) : null,
    ];
    el.replaceChildren(...parts.filter(Boolean));
    const boxR = source.container.getBoundingClientRect();
    const rootR = root.getBoundingClientRect();
    const pos = source.screenPosition(index) || mouse;
    el.style.left = `${boxR.left - rootR.left + pos[0] + 12}px`;
    el.style.top = `${boxR.top - rootR.top + pos[1] + 12}px`;
    el.style.display = 'block';
    el.dataset.index = String(index);
  }

  // a press anywhere in the widget (a lasso, a button) hides the tooltip
  root.addEventListener('mousedown', hide, true);

  return {
    el,
    /** Point `index` (-1: none) is hovered in view `source`; asks Python for details not yet cached. */
    hover(index, source, mouse) {
      hoverIndex = index;
      hoverView = source;
      show(index, source, mouse);
      if (index >= 0 && !cache.has(index)) model.send({ type: 'hover', index });
    },
    /** Handles Python's 'tooltip' and 'tooltip_reset' messages (others are ignored). */
    onMessage(msg, buffers) {
      if (msg?.type === 'tooltip') {
        const img = buffers?.length && msg.has_image ? pngUrl(buffers[0]) : null;
        cache.set(msg.index, { ...msg, img });
        if (hoverIndex === msg.index && hoverView) show(msg.index, hoverView, hoverView.mouse);
      } else if (msg?.type === 'tooltip_reset') {
        cache.clear();
      }
    },
    clearCache() {
      cache.clear();
    },
  };
}
