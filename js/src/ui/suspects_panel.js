// Suspects panel (issue 29): the probe's ranked list of suspected misalignments (the kernel's w.suspects),
// each row with its name, size, score and a strip of 6 member thumbnails. A click on a row selects the slice
// (the kernel sets the selection, which the map and the gallery show); "Axis" places the slice on the concept
// axis between its two concepts; "Save as set" names it; "Fix…" fills the suggested constraint (its anchor
// editable) and runs the round; after a round the kernel probes again and the panel lists what disappeared.
// The list, the progress line and the slices gone are model traits (suspects_list, probe_status,
// suspects_gone); actions go out as 'suspect' messages, answers come back as 'suspect_done' / 'suspect_thumbs'.
import { h } from '../dom.js';
import { pngUrl } from './tooltip.js';

/** The Python line of a panel action on suspect i (for 'fix': name is the anchor as run, suggested the
 * anchor the probe suggested; an edited anchor is what the kernel runs, w.suspect_constraint(i, name)). */
export function suspectLine(action, i, name, suggested) {
  const q = (s) => JSON.stringify(String(s));
  if (action === 'select') return `w.selected = w.suspects.rows[${i}]`;
  if (action === 'save') return `w.sets[${q(name)}] = w.suspects.rows[${i}]`;
  if (action === 'fix') {
    return name && name !== suggested ? `w.align(w.suspect_constraint(${i}, ${q(name)}))` : `w.align(w.suspects.suggestion[${i}])`;
  }
  if (action === 'axis') return `w.concept_axis(*([c] for c in w.suspects.evidence[${i}]["concepts"]))`;
  return 'w.probe()';
}

/** send(action, index, name?) sends a 'suspect' message; onAction(line) shows the Python line. */
export function createSuspectsPanel({ send, onAction = () => {} }) {
  const status = h('span', { class: 'mc-suspects-status', role: 'status' });
  const gone = h('div', { class: 'mc-suspects-gone' });
  const list = h('ol', { class: 'mc-suspects-list' });
  const msg = h('div', { class: 'mc-suspects-msg', role: 'status' });
  const rerun = h('button', { class: 'mc-btn mc-suspects-rerun', text: 'Probe again', onclick: () => act('probe', 0) });
  const el = h('div', { class: 'mc-suspects' },
    h('div', { class: 'mc-suspects-head' }, h('span', { class: 'mc-sets-title', text: 'Suspects:' }), status, rerun),
    gone, list, msg);
  const strips = new Map();
  function act(action, index, name, suggested) {
    send(action, index, name);
    if (action !== 'thumbs') onAction(suspectLine(action, index, name, suggested));
    el.dataset.pending = action;
  }
  function row(s) {
    const strip = h('span', { class: 'mc-suspect-thumbs' });
    strips.set(s.index, strip);
    const nameIn = h('input', { class: 'mc-suspect-setname', type: 'text', value: `suspect ${s.index + 1}`, 'aria-label': 'set name' });
    const anchor = h('input', { class: 'mc-suspect-anchor', type: 'text', value: s.anchor, 'aria-label': 'anchor concept' });
    const fixBox = h('span', { class: 'mc-suspect-fixbox', hidden: '' }, h('span', { text: 'PointSet(' }), anchor,
      h('span', { text: ', rows) ' }),
      h('button', { class: 'mc-btn mc-suspect-run', text: 'Run round', onclick: (e) => { e.stopPropagation(); act('fix', s.index, anchor.value.trim(), s.anchor); } }));
    const btn = (cls, text, fn, show = true) => (show ? h('button', { class: `mc-btn ${cls}`, text, onclick: (e) => { e.stopPropagation(); fn(); } }) : null);
    const li = h('li', { class: 'mc-suspect', 'data-index': String(s.index), 'data-kind': s.kind, title: 'select this slice' },
      h('span', { class: 'mc-suspect-kind', text: s.kind }),
      h('span', { class: 'mc-suspect-name', text: s.name }),
      h('span', { class: 'mc-suspect-size', text: `${s.size} rows` }),
      h('span', { class: 'mc-suspect-score', text: `score ${s.score.toFixed(1)}` }),
      strip,
      btn('mc-suspect-axis', 'Axis', () => act('axis', s.index), s.axis),
      nameIn, btn('mc-suspect-save', 'Save as set', () => act('save', s.index, nameIn.value)),
      btn('mc-suspect-fix', 'Fix\u2026', () => { fixBox.hidden = !fixBox.hidden; }, s.fix),
      fixBox);
    for (const input of [nameIn, anchor]) input.addEventListener('click', (e) => e.stopPropagation());
    li.addEventListener('click', () => act('select', s.index));
    return li;
  }
  return {
    el,
    render(items) {
      strips.clear();
      list.replaceChildren(...(items || []).map(row));
      el.dataset.count = String((items || []).length);
      for (const s of items || []) send('thumbs', s.index);
    },
    status(text) {
      status.textContent = text || '';
      el.dataset.busy = /\u2026|^probe:/.test(text || '') ? '1' : '0';
    },
    gone(names) {
      gone.replaceChildren(...(names?.length ? [h('span', { text: 'Gone after the round: ' }), ...names.map((n) => h('span', { class: 'mc-suspect-gone', text: n }))] : []));
    },
    thumbs(index, urls) {
      const strip = strips.get(index);
      if (strip) strip.replaceChildren(...urls.map((src) => h('img', { class: 'mc-suspect-thumb', src, alt: '' })));
    },
    done(m) {
      el.dataset.pending = '';
      el.dataset.last = m.action;
      msg.textContent = m.error ? `${m.action}: ${m.error}` : '';
      msg.classList.toggle('mc-error', Boolean(m.error));
    },
  };
}

/** Mount the Suspects panel (Chorus; widget.js PANELS). */
export function mountSuspects(ctrl) {
  const urls = [];
  const panel = createSuspectsPanel({
    send: (action, index, name) => ctrl.send('suspect', name === undefined ? { action, index } : { action, index, name }),
    onAction: (line) => ctrl.emit('line', line),
  });
  ctrl.mount(panel.el, 'panels');
  ctrl.watch('suspects_list', () => panel.render(ctrl.model.get('suspects_list')));
  ctrl.watch('probe_status', () => panel.status(ctrl.model.get('probe_status')));
  ctrl.watch('suspects_gone', () => panel.gone(ctrl.model.get('suspects_gone')));
  ctrl.on('suspect_done', (msg) => panel.done(msg));
  ctrl.on('suspect_thumbs', (msg, buffers) => {
    const made = (buffers || []).map((b) => pngUrl(b));
    urls.push(...made);
    panel.thumbs(msg.index, made);
  });
  ctrl.listen('start', () => {
    panel.status(ctrl.model.get('probe_status'));
    panel.gone(ctrl.model.get('suspects_gone'));
    panel.render(ctrl.model.get('suspects_list'));
  });
  ctrl.onDestroy(() => urls.forEach((u) => URL.revokeObjectURL(u)));
}
