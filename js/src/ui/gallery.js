// Selection gallery beside the map: thumbnails of the selected images and the selected texts (paged), each
// with its label and prediction; a click focuses the point in both views. Pages come from Python on request
// (a 'gallery' message answered by 'gallery', thumbnails as binary PNG buffers).
import { h } from '../dom.js';
import { pngUrl } from './tooltip.js';

/** onFocus(index): a card was clicked (index: the drawn point). */
export function createGallery(model, { onFocus, probe }) {
  const head = h('div', { class: 'mc-gallery-head' });
  const grid = h('div', { class: 'mc-gallery-grid' });
  const el = h('div', { class: 'mc-gallery', 'aria-label': 'selection gallery' }, head, grid);
  let page = 0;
  let request = 0;
  let urls = [];
  let total = 0;
  let shown = null; // resolves the promise of the page asked for last
  let waiting = 0; // counts selection changes: a page asked for after an acknowledgement is the latest one's

  const ask = (p) => {
    request += 1;
    page = p;
    model.send({ type: 'gallery', page: p, request: String(request) });
  };

  const nav = (pages) => {
    const prev = h('button', { class: 'mc-btn mc-page-prev', text: '\u2039', title: 'previous page', onclick: () => ask(page - 1) });
    const next = h('button', { class: 'mc-btn mc-page-next', text: '\u203a', title: 'next page', onclick: () => ask(page + 1) });
    prev.disabled = page <= 0;
    next.disabled = page >= pages - 1;
    return h('span', { class: 'mc-pager' }, prev, h('span', { class: 'mc-page', text: `${page + 1}/${pages}` }), next);
  };

  return {
    el,
    /** The selection changed (count: how many points): fetch its first page, once `after` (a promise: the
     * kernel's acknowledgement of the new selection) resolves when given. Resolves once the page is shown. */
    selectionChanged(count, after = null) {
      total = count;
      waiting += 1;
      if (count === 0) {
        for (const u of urls) URL.revokeObjectURL(u);
        urls = [];
        head.replaceChildren(h('span', { class: 'mc-muted', text: 'Lasso points to see them here.' }));
        grid.replaceChildren();
        el.dataset.total = '0';
        el.dataset.shown = '0';
        return Promise.resolve();
      }
      head.replaceChildren(h('span', { class: 'mc-muted', text: `${count.toLocaleString()} selected\u2026` }));
      if (after) {
        const mine = waiting;
        after.then(() => {
          if (mine === waiting) ask(0); // a later selection asks for itself
        });
      } else ask(0);
      return new Promise((resolve) => {
        shown = resolve;
      });
    },
    onMessage(msg, buffers) {
      if (msg?.type !== 'gallery' || msg.request !== String(request)) return false;
      for (const u of urls) URL.revokeObjectURL(u);
      urls = [];
      page = msg.page;
      const counts = Object.entries(msg.counts || {}).map(([m, c]) => `${c.toLocaleString()} ${m}${c === 1 ? '' : 's'}`).join(', ');
      const count = h('span', { class: 'mc-gallery-count', text: `Selected: ${counts || '0'}` });
      head.replaceChildren(...(msg.pages > 1 ? [count, nav(msg.pages)] : [count])); // a null child would print "null"
      const cards = msg.items.map((it) => {
        let img = null;
        if (it.png >= 0 && buffers?.[it.png]) {
          const u = pngUrl(buffers[it.png]);
          urls.push(u);
          img = h('img', { class: 'mc-card-img', src: u, alt: `image ${it.row}` });
        }
        const meta = [
          it.label != null ? h('div', { class: 'mc-card-label', text: `label: ${it.label}` }) : null,
          it.prediction != null ? h('div', { class: `mc-card-pred${it.label != null && it.label !== it.prediction ? ' mc-wrong' : ''}`, text: `pred: ${it.prediction}` }) : null,
        ];
        return h('button', {
          class: `mc-card mc-card-${it.modality === 'image' ? 'image' : 'text'}`, 'data-row': String(it.row), 'data-index': String(it.index),
          title: `${it.text} (row ${it.row}): click to focus it in both views`,
          onclick: () => { if (it.index >= 0) onFocus(it.index); },
        }, img, img ? null : h('div', { class: 'mc-card-caption', text: it.text }), ...meta);
      });
      grid.replaceChildren(...cards);
      el.dataset.total = String(msg.total);
      el.dataset.shown = String(cards.length);
      el.dataset.page = String(page);
      probe?.stamp('galleryMs');
      shown?.();
      shown = null;
      return true;
    },
    get total() {
      return total;
    },
  };
}
