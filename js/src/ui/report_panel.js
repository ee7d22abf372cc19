// The last round as pictures: per-class zero-shot accuracy before/after (paired bars), recall@1/5 of true
// pairs, a histogram of how far selected vs unselected points moved, and the predictions that changed
// outside the selection. Python sends the figures (Chorus.report); nothing here is shown as raw JSON.
import { h } from '../dom.js';
import { formatValue } from '../format.js';
import { histogramBars, pairedBars, pct } from '../round_figures.js';

const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

const BAR_W = 150;
// why a round ended (fit.train's info["stopped"]), in words
const STOPPED = { satisfied: 'satisfied', validation: 'best on the held-out slice', steps: 'every step run' };
const ROW_H = 15;

/** Paired bars: one row per label, grey "before" bar over a coloured "after" bar, values as text. */
function barChart(title, labels, before, after, { cls = '', note = '' } = {}) {
  const bars = pairedBars(labels, before, after, BAR_W);
  const labelW = Math.min(110, 8 + 6.5 * Math.max(...labels.map((l) => String(l).length), 1));
  const height = bars.length * ROW_H + 4;
  const chart = svg('svg', { class: 'mc-bars', width: labelW + BAR_W + 92, height, role: 'img', 'aria-label': title });
  bars.forEach((b, k) => {
    const y = k * ROW_H + 2;
    const g = svg('g', { class: 'mc-bar-row', 'data-label': b.label, 'data-before': b.before, 'data-after': b.after });
    g.append(
      svg('text', { x: labelW - 4, y: y + 10, 'text-anchor': 'end', class: 'mc-bar-label', text: b.label }),
      svg('rect', { x: labelW, y, width: BAR_W, height: ROW_H - 3, class: 'mc-bar-track' }),
      svg('rect', { x: labelW, y, width: b.wBefore, height: (ROW_H - 3) / 2, class: 'mc-bar-before' }),
      svg('rect', { x: labelW, y: y + (ROW_H - 3) / 2, width: b.wAfter, height: (ROW_H - 3) / 2, class: `mc-bar-after ${b.delta > 1e-9 ? 'mc-up' : b.delta < -1e-9 ? 'mc-down' : ''}` }),
      svg('text', { x: labelW + BAR_W + 4, y: y + 10, class: 'mc-bar-value', text: `${pct(b.before)} \u2192 ${pct(b.after)}` }),
      svg('title', { text: `${b.label}: ${pct(b.before)} before, ${pct(b.after)} after` }),
    );
    chart.append(g);
  });
  return h('div', { class: `mc-fig ${cls}` }, h('div', { class: 'mc-fig-title', text: title }), note ? h('div', { class: 'mc-fig-note', text: note }) : null, chart);
}

function movedHistogram(moved) {
  const W = 220;
  const H = 60;
  const bars = histogramBars([moved.selected, moved.unselected], W, H);
  const chart = svg('svg', { class: 'mc-hist', width: W, height: H + 14, role: 'img', 'aria-label': 'how far points moved' });
  for (const b of bars) {
    chart.append(svg('rect', { x: b.x, y: b.y, width: b.w, height: b.h, class: b.group === 0 ? 'mc-hist-sel' : 'mc-hist-unsel' }));
  }
  const edges = moved.edges || [];
  chart.append(
    svg('line', { x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5, class: 'mc-axis-line' }),
    svg('text', { x: 0, y: H + 12, class: 'mc-tick', text: '0' }),
    svg('text', { x: W, y: H + 12, 'text-anchor': 'end', class: 'mc-tick', text: `${formatValue(edges[edges.length - 1] ?? 0)} (1 \u2212 cos)` }),
  );
  const legend = h('div', { class: 'mc-fig-note' },
    h('span', { class: 'mc-key mc-hist-sel' }), ` selected (mean ${formatValue(moved.selected_mean)}) `,
    h('span', { class: 'mc-key mc-hist-unsel' }), ` unselected (mean ${formatValue(moved.unselected_mean)})`);
  return h('div', { class: 'mc-fig mc-fig-moved' }, h('div', { class: 'mc-fig-title', text: 'how far points moved (share of each group)' }), chart, legend);
}

/** Anchor mode: the concepts the round tuned (the only points that moved), each with how far it moved. */
function tunedList(tuned) {
  const rows = tuned.map((t) => h('div', { class: 'mc-tuned-row', 'data-row': String(t.row), 'data-moved': String(t.moved) },
    h('span', { text: t.name }), h('span', { class: 'mc-muted', text: ` moved ${formatValue(t.moved)} (1 \u2212 cos)` })));
  const note = 'anchor mode: every other point kept its vector';
  return h('div', { class: 'mc-fig mc-fig-tuned' }, h('div', { class: 'mc-fig-title', text: 'concepts tuned' }), h('div', { class: 'mc-fig-note', text: note }), ...rows);
}

function recallChart(rec) {
  const labels = ['image\u2192text R@1', 'image\u2192text R@5', 'text\u2192image R@1', 'text\u2192image R@5'];
  const keys = ['i2t_r1', 'i2t_r5', 't2i_r1', 't2i_r5'];
  const note = rec.n_queries < rec.n_pairs ? `${rec.n_queries} of ${rec.n_pairs} true pairs` : `${rec.n_pairs} true pairs`;
  return barChart('retrieval of true pairs', labels, keys.map((k) => rec[`${k}_before`]), keys.map((k) => rec[`${k}_after`]), { cls: 'mc-fig-recall', note });
}

function constraintChart(c) {
  const names = Object.keys(c.before || {}).filter((k) => k in (c.after || {}));
  if (!names.length) return null;
  const nice = { anchor_cos: 'cos to anchor', anchor_top1: 'anchor is best match', centroid_cos: 'centroid cos', pair_r1: 'pair R@1' };
  return barChart(c.words, names.map((k) => nice[k] || k), names.map((k) => c.before[k]), names.map((k) => c.after[k]), { cls: 'mc-fig-constraint' });
}

/** The note under the guard's curve: what the lines are, and how the guard chose alpha (``guard.pick``). */
export function alphaNote(guard) {
  const tol = pct(guard?.tolerance ?? 0);
  const rule = {
    best_target: `\u03b1: the most constraints satisfied with no regression over ${tol}`,
    largest: `\u03b1: the largest with no regression over ${tol}`,
  }[guard?.pick];
  return `solid: constraints satisfied; dashed: worst regression outside (tolerance ${tol})${rule ? `. ${rule}` : ''}`;
}

/** The guard's curve: target satisfied (solid) and worst regression (dashed) at each alpha tried, the tolerance
 * (dotted) and the round's alpha (a marker). */
export function alphaCurve(guard, alpha) {
  const c = guard?.curve;
  if (!c || !Array.isArray(c.alpha) || c.alpha.length < 2) return null;
  const W = 180;
  const H = 64;
  const x = (a) => 4 + a * (W - 8);
  const y = (v) => H - 4 - Math.max(0, Math.min(1, v ?? 0)) * (H - 8);
  const line = (vals, cls) => svg('polyline', {
    class: cls, fill: 'none', points: c.alpha.map((a, i) => `${x(a).toFixed(1)},${y(vals[i]).toFixed(1)}`).join(' '),
  });
  const chart = svg('svg', { class: 'mc-alpha-curve', width: W, height: H + 14, role: 'img', 'aria-label': 'strength curve' });
  if (Array.isArray(c.target) && c.target.every((v) => v != null)) chart.append(line(c.target, 'mc-curve-target'));
  if (Array.isArray(c.worst_regression)) chart.append(line(c.worst_regression, 'mc-curve-worst'));
  if (guard.tolerance != null) {
    chart.append(svg('line', { class: 'mc-curve-tol', x1: x(0), x2: x(1), y1: y(guard.tolerance), y2: y(guard.tolerance) }));
  }
  chart.append(
    svg('line', { class: 'mc-curve-alpha', 'data-alpha': String(alpha), x1: x(alpha), x2: x(alpha), y1: 2, y2: H - 2 }),
    svg('text', { x: 0, y: H + 12, class: 'mc-tick', text: '\u03b1 0' }),
    svg('text', { x: W, y: H + 12, 'text-anchor': 'end', class: 'mc-tick', text: '1' }),
  );
  const note = alphaNote(guard);
  return h('div', { class: 'mc-fig mc-fig-alpha' }, h('div', { class: 'mc-fig-title', text: `strength \u03b1 = ${formatValue(alpha)}` }),
    chart, h('div', { class: 'mc-fig-note', text: note }));
}

/** The strength slider of the last round: moving it previews (throttled), "Apply" commits. */
function strengthSlider(alpha, onStrength) {
  const value = h('span', { class: 'mc-strength-value', text: formatValue(alpha) });
  const input = h('input', { type: 'range', min: '0', max: '1', step: '0.05', value: String(alpha), class: 'mc-strength', 'aria-label': 'round strength' });
  const apply = h('button', { class: 'mc-strength-apply', text: 'Apply', disabled: true });
  let timer = null;
  let pending = null;
  const send = () => {
    timer = null;
    if (pending != null) onStrength(pending, false);
    pending = null;
  };
  input.addEventListener('input', () => {
    const a = Number(input.value);
    value.textContent = formatValue(a);
    apply.disabled = Math.abs(a - alpha) < 1e-9;
    pending = a;
    if (timer == null) timer = setTimeout(send, 120);
  });
  apply.addEventListener('click', () => onStrength(Number(input.value), true));
  return h('div', { class: 'mc-strength-row' }, h('span', { text: 'strength ' }), input, value, apply);
}

/** The unselected images whose reading changed, grouped (from -> to); a group's button selects its rows (the
 * gallery shows their thumbnails; a lasso can take them into the next constraint). */
function changedOutside(co, onSelectRows) {
  const rows = co.groups.map((g) => h('div', { class: 'mc-changed-group', 'data-from': g.from, 'data-to': g.to, 'data-count': String(g.count), 'data-rows': g.rows.join(',') },
    h('button', { class: 'mc-changed-select', text: 'select', title: 'select these images (the gallery shows them)', onclick: () => onSelectRows(g.rows) }),
    h('span', { text: ` ${g.count} ${g.from} \u2192 ${g.to}` })));
  const title = `changed outside: ${co.total} unselected image${co.total === 1 ? '' : 's'} read differently`;
  return h('div', { class: 'mc-fig mc-fig-changed-outside' }, h('div', { class: 'mc-fig-title', text: title }), ...rows);
}

export function createReportPanel({ onStrength = () => {}, onSelectRows = () => {} } = {}) {
  const el = h('div', { class: 'mc-report' });
  let last = null;
  return {
    el,
    /** The slider's preview: the same figures at another alpha (nothing committed). */
    preview(r) {
      if (!last || !r) return;
      const slider = el.querySelector('.mc-strength-row');
      this.update({ ...r, round: last.round }, { keepSlider: slider });
      el.dataset.preview = String(r.alpha);
    },
    update(r, { keepSlider = null } = {}) {
      if (!keepSlider) last = r;
      delete el.dataset.preview;
      el.replaceChildren();
      if (!r || !r.round) return;
      el.dataset.round = String(r.round);
      const head = h('div', { class: 'mc-report-head' },
        h('b', { text: `Round ${r.round}: ` }), r.words || '',
        h('span', { class: 'mc-muted', text: ` \u00b7 ${r.steps} steps${r.stopped ? ` (${STOPPED[r.stopped] ?? r.stopped})` : ''} \u00b7 ${formatValue(r.seconds)} s` }));
      const figs = h('div', { class: 'mc-report-figs mc-report-table' });
      if (r.zero_shot) {
        const z = r.zero_shot;
        const names = [...z.classes, 'all'];
        const before = [...z.before, z.overall_before];
        const after = [...z.after, z.overall_after];
        if (z.selected_before != null) {
          names.push('selected');
          before.push(z.selected_before);
          after.push(z.selected_after);
        }
        const title = z.rows === 'unselected' ? 'zero-shot accuracy per class, images not selected' : 'zero-shot accuracy per class';
        figs.append(barChart(title, names, before, after, { cls: 'mc-fig-zeroshot' }));
      }
      if (r.recall) figs.append(recallChart(r.recall));
      if (r.tuned) figs.append(tunedList(r.tuned));
      else if (r.moved) figs.append(movedHistogram(r.moved));
      for (const c of r.constraints || []) {
        const f = constraintChart(c);
        if (f) figs.append(f);
      }
      if (r.changed_unselected != null) {
        const of = r.n_unselected_images != null ? ` of ${r.n_unselected_images.toLocaleString()}` : '';
        figs.append(h('div', { class: 'mc-fig mc-fig-changed' },
          h('div', { class: 'mc-big', text: String(r.changed_unselected) }),
          h('div', { text: `predictions changed outside the selection${of}` }),
          r.changed_selected != null ? h('div', { class: 'mc-muted', text: `${r.changed_selected} changed inside it` }) : null));
      }
      if (r.alpha != null && (r.guard || r.alpha !== 1)) {
        el.dataset.alpha = String(r.alpha);
        const curve = alphaCurve(r.guard, r.alpha);
        if (curve) figs.prepend(curve);
        figs.prepend(keepSlider ?? strengthSlider(r.alpha, onStrength));
      } else if (r.alpha != null) {
        el.dataset.alpha = String(r.alpha);
        figs.prepend(keepSlider ?? strengthSlider(r.alpha, onStrength));
      }
      if (r.changed_outside && r.changed_outside.groups.length) figs.append(changedOutside(r.changed_outside, onSelectRows));
      el.append(...[head, r.note ? h('div', { class: 'mc-report-note', text: r.note }) : null, figs].filter(Boolean));
    },
  };
}
