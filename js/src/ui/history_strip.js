// History strip: one chip per alignment round (its constraint in words), undo / redo, and a click on a chip
// to go to that round. Python keeps the history (Chorus.history) and does the undo/redo in the aligner.
import { h } from '../dom.js';

/** onGoto(k), onUndo(), onRedo(): ask Python. */
export function createHistoryStrip({ onGoto, onUndo, onRedo }) {
  const el = h('div', { class: 'mc-history', role: 'group', 'aria-label': 'alignment rounds' });
  return {
    el,
    update(hist) {
      const chips = hist?.chips || [];
      const current = hist?.current ?? 0;
      el.dataset.current = String(current);
      if (!chips.length) {
        el.replaceChildren();
        return;
      }
      const undo = h('button', { class: 'mc-btn mc-undo', title: 'Undo the last round (U)', text: '\u21b6 Undo', onclick: onUndo });
      const redo = h('button', { class: 'mc-btn mc-redo', title: 'Redo an undone round (Shift+U)', text: 'Redo \u21b7', onclick: onRedo });
      undo.disabled = current === 0;
      redo.disabled = current >= chips.length;
      const start = h('button', {
        class: 'mc-chip mc-chip-start', 'data-k': '0', 'aria-pressed': String(current === 0), title: 'before any round', text: 'start',
        onclick: () => onGoto(0),
      });
      const list = chips.map((c) => h('button', {
        class: `mc-chip${c.applied ? '' : ' mc-chip-undone'}${c.identity ? ' mc-chip-identity' : ''}`,
        'data-k': String(c.k), 'aria-pressed': String(c.k === current),
        title: `round ${c.k}: ${c.words}${c.identity ? ' (nothing moved)' : ''}${c.applied ? '' : ' (undone; click to redo)'}`,
        onclick: () => onGoto(c.k),
      }, h('b', { text: `${c.k} ` }), c.words));
      el.replaceChildren(h('span', { class: 'mc-sets-title', text: 'Rounds:' }), undo, redo, start, ...list);
    },
  };
}
