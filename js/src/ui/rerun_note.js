// The "re-run this cell" note: Python displays it as its own output just before the view (ScatterWidget.
// _ipython_display_), for a notebook reopened without its kernel, where the view cannot be drawn. A view that
// renders hides the note before it; the notebook file keeps it, so it shows again when the kernel is gone.

/** Hide the note displayed just before `el`'s output; true when one was found. Looks at the previous sibling
 * of `el` and of each of its ancestors (up to `depth`), as output areas nest outputs differently; hides only a
 * sibling that holds nothing but the note. */
export function hideRerunNote(el, depth = 8) {
  let node = el;
  for (let i = 0; i < depth && node; i += 1, node = node.parentElement) {
    const prev = node.previousElementSibling;
    const note = prev && (prev.matches('.modalchorus-rerun') ? prev : prev.querySelector('.modalchorus-rerun'));
    // only an output that holds nothing but the note (never a whole earlier cell)
    if (note && prev.textContent.trim() === note.textContent.trim()) {
      prev.style.display = 'none';
      return true;
    }
  }
  return false;
}

/** hideRerunNote once `el` is in the page (a view is rendered before the output area attaches it). */
export function hideRerunNoteWhenAttached(el, tries = 40) {
  if (el.isConnected && hideRerunNote(el)) return;
  if (tries > 0) setTimeout(() => hideRerunNoteWhenAttached(el, tries - 1), 50);
}
