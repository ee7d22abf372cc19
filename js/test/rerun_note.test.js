import { describe, expect, it } from 'vitest';
import { hideRerunNote } from '../src/ui/rerun_note.js';

// a minimal element tree (vitest runs without a DOM here): parentElement, previousElementSibling, matches,
// querySelector and textContent, as the output areas of JupyterLab nest them
function node(cls, text = '', children = []) {
  const n = { cls, style: {}, children, parentElement: null, previousElementSibling: null };
  n.matches = (sel) => sel === `.${cls}`;
  n.querySelector = (sel) => {
    for (const c of children) {
      if (c.matches(sel)) return c;
      const d = c.querySelector(sel);
      if (d) return d;
    }
    return null;
  };
  Object.defineProperty(n, 'textContent', { get: () => text + children.map((c) => c.textContent).join('') });
  children.forEach((c, i) => {
    c.parentElement = n;
    c.previousElementSibling = children[i - 1] || null;
  });
  return n;
}

describe('re-run note', () => {
  it('hides the output holding only the note just before the view', () => {
    const note = node('modalchorus-rerun', 'Re-run this cell');
    const noteOut = node('jp-OutputArea-child', '', [node('jp-OutputPrompt'), node('jp-RenderedHTMLCommon', '', [note])]);
    const el = node('widget-el');
    const viewOut = node('jp-OutputArea-child', '', [node('jp-OutputPrompt'), node('jp-OutputArea-output', '', [node('panel', '', [el])])]);
    node('jp-OutputArea', '', [noteOut, viewOut]);
    expect(hideRerunNote(el)).toBe(true);
    expect(noteOut.style.display).toBe('none');
  });

  it('never hides an earlier output that holds more than the note', () => {
    const note = node('modalchorus-rerun', 'Re-run this cell');
    const earlierCell = node('jp-Cell', 'print(1) 1', [note]);
    const el = node('widget-el');
    node('jp-Notebook', '', [earlierCell, node('jp-Cell', '', [el])]);
    expect(hideRerunNote(el)).toBe(false);
    expect(earlierCell.style.display).toBeUndefined();
  });
});
