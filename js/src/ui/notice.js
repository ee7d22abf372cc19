// Sampling notice: shown when Python sends a sample of the points (more than max_points), saying how many
// and what selections mean.
import { h } from '../dom.js';

export function createNotice() {
  const el = h('div', { class: 'mc-notice', role: 'note' });
  return {
    el,
    setText(text) {
      el.textContent = text;
      el.style.display = text ? 'block' : 'none';
    },
  };
}
