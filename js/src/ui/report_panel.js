// Alignment report: a before/after table of the last alignment round (empty until there is one).
import { h } from '../dom.js';
import { reportRows } from '../format.js';

export function createReportPanel() {
  const el = h('div', { class: 'mc-report' });
  return {
    el,
    update(report) {
      el.replaceChildren();
      const rows = reportRows(report || {});
      if (!rows.length) return;
      const table = h('table', { class: 'mc-report-table' },
        h('tr', {}, h('th', { text: 'last alignment round' }), h('th', { text: 'before' }), h('th', { text: 'after' })));
      for (const r of rows) {
        const cells = r.single !== undefined
          ? [h('td', { class: 'mc-single', colspan: '2', text: r.single })]
          : [h('td', { text: r.before }), h('td', { text: r.after })];
        table.appendChild(h('tr', {}, h('td', { text: r.name }), ...cells));
      }
      el.appendChild(table);
    },
  };
}
