// Text for the status line and the alignment report (pure).

/** A report value as short text: 3 decimals below 10, 1 above; long lists and dicts summarised. */
export function formatValue(x) {
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : Math.abs(x) < 10 ? x.toFixed(3) : x.toFixed(1);
  if (Array.isArray(x)) return x.length > 6 ? `(${x.length} values)` : x.map(formatValue).join(', ');
  if (x && typeof x === 'object') return Object.keys(x).length > 4 ? `(${Object.keys(x).length} entries)` : JSON.stringify(x);
  return String(x ?? '');
}

/** Report dict -> rows: {name, before, after} for x_before/x_after pairs or {before, after} dicts, else {name, single}. */
export function reportRows(r) {
  const rows = [];
  const seen = new Set();
  for (const k of Object.keys(r)) {
    if (seen.has(k)) continue;
    const v = r[k];
    const m = /^(.*)_(before|after)$/.exec(k);
    if (m) {
      const base = m[1];
      seen.add(`${base}_before`);
      seen.add(`${base}_after`);
      rows.push({ name: base, before: formatValue(r[`${base}_before`]), after: formatValue(r[`${base}_after`]) });
    } else if (v && typeof v === 'object' && !Array.isArray(v) && ('before' in v || 'after' in v)) {
      rows.push({ name: k, before: formatValue(v.before), after: formatValue(v.after) });
    } else {
      rows.push({ name: k, single: formatValue(v) });
    }
  }
  return rows;
}

/** The status line: point count, method, selected points per modality, extra text from Python. */
export function statusText({ n, names = [], counts = [], selected = 0, method = '', sampled = false, extra = '' }) {
  const sel = names.length
    ? names.map((nm, k) => `${counts[k]} ${nm}${counts[k] === 1 ? '' : 's'}`).join(', ')
    : `${selected}`;
  const shown = sampled ? ' shown (sampled)' : '';
  return `${n.toLocaleString()} points${shown}${method ? ` \u00b7 ${method}` : ''} \u00b7 selected: ${sel}${extra ? ` \u00b7 ${extra}` : ''}`;
}
