// Search: a box that finds points by label or text (substring), and, with an encoder attached, the nearest
// points of each modality to the query's embedding; the views ring them and place the query as a star.
import { h } from '../dom.js';

/** onSearch(query); onSelect(indices): select what was found; onClear(): drop the highlight. */
export function createSearchBox({ onSearch, onSelect, onClear }) {
  const input = h('input', { class: 'mc-search', type: 'search', placeholder: 'search label, text or concept (/)', 'aria-label': 'search' });
  const result = h('span', { class: 'mc-search-result', role: 'status' });
  const form = h('form', { class: 'mc-search-form' }, input, h('button', { class: 'mc-btn mc-search-go', type: 'submit', text: 'Find' }), result);
  const submit = () => {
    const q = input.value.trim();
    if (q) {
      result.textContent = 'searching\u2026';
      onSearch(q);
    } else {
      result.replaceChildren();
      onClear();
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });
  // Enter in the box: JupyterLab's notebook keeps it from submitting the form by itself
  input.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    ev.stopPropagation();
    submit();
  });
  return {
    el: form,
    input,
    /** Python's answer: { query, n_matches, n_nearest, error? }, matches and nearest: drawn indices. */
    show(msg, matches, nearest) {
      if (msg.error) {
        result.textContent = msg.error;
        return;
      }
      const parts = [`${msg.n_matches} match${msg.n_matches === 1 ? '' : 'es'}`];
      if (msg.n_nearest) parts.push(`${msg.n_nearest} nearest`);
      const sel = (what, idx) => (idx.length ? h('button', { class: `mc-btn mc-search-select-${what}`, text: `select ${what}`, onclick: () => onSelect(idx) }) : null);
      const clear = h('button', { class: 'mc-btn mc-search-clear', text: '\u00d7', title: 'clear the search', onclick: () => { result.replaceChildren(); onClear(); } });
      result.replaceChildren(`"${msg.query}": ${parts.join(', ')} `, sel('matches', matches), sel('nearest', nearest), clear);
    },
  };
}
