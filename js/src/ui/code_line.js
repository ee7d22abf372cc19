// The Python line of the last UI action, with a copy button: a session clicked together can be rerun cell by cell.
import { h } from '../dom.js';
import { shortLine } from '../python_line.js';

export function createCodeLine() {
  const code = h('code', { class: 'mc-code' });
  const copy = h('button', { class: 'mc-btn mc-copy', title: 'Copy this line', text: 'Copy' });
  const el = h('div', { class: 'mc-codeline' }, h('span', { class: 'mc-muted', text: 'Python: ' }), code, copy);
  let full = '';
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(full);
      copy.textContent = 'Copied';
    } catch {
      // no clipboard access (insecure context): select the text so Ctrl+C copies it
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      copy.textContent = 'Select + Ctrl+C';
    }
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  });
  return {
    el,
    get line() {
      return full;
    },
    show(line) {
      if (!line) return;
      full = line;
      code.textContent = shortLine(line);
      code.title = line.length > 160 ? 'shortened; Copy copies the whole line' : '';
      el.dataset.line = line;
      el.classList.add('mc-has');
    },
  };
}
