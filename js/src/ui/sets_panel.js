// Named sets panel: one ring-coloured button per set (click selects its points, x deletes it), and a
// "save selection as set" field. Sets live in the model's named_sets trait (name -> uint32 bytes). Edits go
// to the kernel as a chunked transfer (set_transfer.js: a plain update of every set can exceed the server's
// websocket limit); the kernel sets named_sets, which comes back as a change, or refuses with a reason shown here.
import { h } from '../dom.js';
import { decodeUint32, encodeIndices } from '../buffers.js';
import { setColor } from '../colors.js';
import { createSetEditor } from '../set_transfer.js';

/** named_sets trait value -> [{name, color, indices}] with stable colours (by position). */
export function setEntries(raw) {
  return Object.entries(raw || {}).map(([name, bytes], k) => ({ name, color: setColor(k), indices: decodeUint32(bytes) }));
}

/** The name a saved set gets: the typed one, or "set N" for the next N. */
export function newSetName(typed, count) {
  return typed.trim() || `set ${count + 1}`;
}

/** handlers: { getSelection() -> indices, onPick(indices), onAction({kind, ...}) for the Python line of each
 * action }. onMessage(msg) takes the kernel's sets_applied / sets_refused answers. */
export function createSetsPanel(model, { getSelection, onPick, onAction = () => {} }) {
  const el = h('div', { class: 'mc-sets' });
  const note = h('span', { class: 'mc-sets-msg', role: 'status' });
  const editor = createSetEditor(model);
  const editSets = (edit) => {
    editor.edit(edit);
    el.dataset.pending = '1';
  };
  return {
    el,
    onMessage(msg) {
      note.textContent = editor.answer(msg);
      el.dataset.pending = editor.pending ? '1' : '0';
    },
    render(entries) {
      const nameIn = h('input', { class: 'mc-set-name', type: 'text', placeholder: 'set name', 'aria-label': 'new set name' });
      const save = h('button', {
        class: 'mc-btn mc-set-save', text: 'Save selection as set',
        onclick: () => {
          const name = newSetName(nameIn.value, entries.length);
          const indices = getSelection();
          editSets((next) => { next[name] = encodeIndices(indices); });
          onAction({ kind: 'save_set', name, indices });
        },
      });
      const rows = entries.map((e) => {
        const swatch = h('span', { class: 'mc-swatch mc-ring' });
        swatch.style.borderColor = e.color;
        const pick = h('button', {
          class: 'mc-btn mc-set-select', title: `select the points of "${e.name}"`, text: `${e.name} (${e.indices.length})`,
          onclick: () => {
            onPick(Uint32Array.from(e.indices));
            onAction({ kind: 'pick_set', name: e.name });
          },
        });
        const del = h('button', {
          class: 'mc-btn mc-set-del', title: `delete set "${e.name}"`, 'aria-label': `delete set ${e.name}`, text: '\u00d7',
          onclick: () => {
            editSets((next) => { delete next[e.name]; });
            onAction({ kind: 'delete_set', name: e.name });
          },
        });
        return h('span', { class: 'mc-set', 'data-set': e.name }, swatch, pick, del);
      });
      el.replaceChildren(h('span', { class: 'mc-sets-title', text: 'Sets:' }), ...rows, nameIn, save, note);
    },
  };
}
