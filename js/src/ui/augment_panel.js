// Augmentation panel (ModalChorus paper, Fig. 5e): drop PNG/JPEG files or type texts (one per line), name a
// set, Add. The kernel encodes them with the attached encoder, adds them as points placed by the map's
// projector and tags them into the named set (Chorus.augment); its answer, or why it refused, shows here.
// Files are checked here first (type, size, count) and again in the kernel, which decodes them.
import { h } from '../dom.js';

export const MAX_FILES = 32;
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
export const MAX_TEXTS = 64;
const IMAGE_TYPES = ['image/png', 'image/jpeg'];
const IMAGE_NAME = /\.(png|jpe?g)$/i;

/** Split the text box into texts: one per line, trimmed, empty lines dropped. */
export function parseTexts(value) {
  return String(value || '').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
}

/** { ok: [files], errors: [messages] } for dropped/chosen files ({ name, size, type }), by type, size and count. */
export function checkFiles(files, { maxFiles = MAX_FILES, maxBytes = MAX_FILE_BYTES } = {}) {
  const ok = [];
  const errors = [];
  for (const f of files || []) {
    if (!(IMAGE_TYPES.includes(f.type) || (!f.type && IMAGE_NAME.test(f.name)))) {
      errors.push(`${f.name}: not a PNG or JPEG image; drop .png or .jpg files`);
    } else if (f.size > maxBytes) {
      errors.push(`${f.name}: ${(f.size / 2 ** 20).toFixed(1)} MiB is over the ${maxBytes / 2 ** 20} MiB limit; downscale it`);
    } else if (ok.length >= maxFiles) {
      errors.push(`${f.name}: at most ${maxFiles} files per add; add the rest next`);
    } else ok.push(f);
  }
  return { ok, errors };
}

const pyStr = (s) => JSON.stringify(String(s));

/** The cell that does what the panel did: w.augment(images=[...], texts=[...], set_name="..."). */
export function augmentLine({ names = [], texts = [], setName = 'augmented' }) {
  const args = [];
  if (names.length) args.push(`images=[${names.map(pyStr).join(', ')}]`);
  if (texts.length) args.push(`texts=[${texts.map(pyStr).join(', ')}]`);
  args.push(`set_name=${pyStr(setName)}`);
  return `w.augment(${args.join(', ')})`;
}

const readDataUrl = (file) => new Promise((resolve, reject) => {
  const r = new FileReader();
  r.onload = () => resolve(String(r.result));
  r.onerror = () => reject(r.error || new Error(`cannot read ${file.name}`));
  r.readAsDataURL(file);
});

/** onAction(line): show the Python line of a successful add. onMessage(msg) takes the kernel's answer. */
export function createAugmentPanel(model, { onAction = () => {} } = {}) {
  let files = [];
  let pending = null;
  let seq = 0;
  const msgEl = h('div', { class: 'mc-augment-msg', role: 'status' });
  const list = h('span', { class: 'mc-augment-files' });
  const input = h('input', { class: 'mc-augment-input', type: 'file', multiple: '', accept: IMAGE_TYPES.join(','), 'aria-label': 'choose image files' });
  const drop = h('div', { class: 'mc-augment-drop', tabindex: '0', role: 'button', 'aria-label': 'drop PNG or JPEG files here' },
    h('span', { text: 'Drop PNG/JPEG files here or ' }), h('u', { text: 'choose\u2026' }), list);
  const texts = h('textarea', { class: 'mc-augment-texts', rows: '2', placeholder: 'texts to add, one per line', 'aria-label': 'texts to add' });
  const name = h('input', { class: 'mc-augment-set', type: 'text', value: 'augmented', 'aria-label': 'set to tag them into' });
  const add = h('button', { class: 'mc-btn mc-augment-add', text: 'Add to set' });
  const el = h('div', { class: 'mc-augment' }, h('span', { class: 'mc-sets-title', text: 'Add samples:' }), drop, input, texts, name, add, msgEl);
  // data-state: '' | 'pending' (sent, no answer yet) | 'ok' | 'error'
  const say = (text, error = false, state = error ? 'error' : text ? 'ok' : '') => {
    msgEl.textContent = text;
    msgEl.classList.toggle('mc-error', error);
    el.dataset.state = state;
  };
  const take = (chosen) => {
    const { ok, errors } = checkFiles(Array.from(chosen || []));
    files = ok;
    list.textContent = ok.length ? ` \u2014 ${ok.map((f) => f.name).join(', ')}` : '';
    say(errors.join('; '), errors.length > 0);
  };
  input.addEventListener('change', () => take(input.files));
  drop.addEventListener('click', () => input.click());
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('mc-over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('mc-over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('mc-over');
    take(e.dataTransfer?.files);
  });
  add.addEventListener('click', async () => {
    const t = parseTexts(texts.value);
    const setName = name.value.trim() || 'augmented';
    if (!files.length && !t.length) return say('Drop or choose image files, or type texts, then Add.', true);
    if (t.length > MAX_TEXTS) return say(`At most ${MAX_TEXTS} texts per add.`, true);
    let data;
    try {
      data = await Promise.all(files.map(async (f) => ({ name: f.name, data: await readDataUrl(f) })));
    } catch (err) {
      return say(`Could not read a file: ${err.message || err}`, true);
    }
    const request = String(++seq);
    pending = { request, line: augmentLine({ names: files.map((f) => f.name), texts: t, setName }) };
    add.disabled = true;
    say('Adding\u2026', false, 'pending');
    model.send({ type: 'augment', request, set_name: setName, texts: t, files: data });
  });
  return {
    el,
    onMessage(msg) {
      if (!pending || String(msg.request) !== pending.request) return;
      add.disabled = false;
      if (msg.error) {
        say(msg.error, true);
      } else {
        say(`Added ${msg.added} point${msg.added === 1 ? '' : 's'} to set \u201c${msg.set_name}\u201d.`);
        onAction(pending.line);
        files = [];
        input.value = '';
        list.textContent = '';
        texts.value = '';
      }
      pending = null;
    },
  };
}
