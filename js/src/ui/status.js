// Status line: points shown, method, selected points per modality, and Python's status text.
import { h } from '../dom.js';
import { countByCode } from '../lasso.js';
import { statusText } from '../format.js';

export function createStatus(model) {
  const el = h('div', { class: 'mc-status', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    /** n: points drawn; selection: sorted indices; modality: per-point modality codes. */
    update(n, selection, modality) {
      const names = model.get('modality_names') || [];
      el.textContent = statusText({
        n,
        names,
        counts: countByCode(selection, modality, Math.max(1, names.length)),
        selected: selection.length,
        method: model.get('method'),
        sampled: Boolean(model.get('sample_notice')),
        extra: model.get('status') || '',
      });
    },
  };
}
