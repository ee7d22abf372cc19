// Legend model (pure) and its DOM rendering.
import { categoryColor } from './colors.js';

/** Entries {code, name, color, count} for category codes present; sorted by count, capped. */
export function legendEntries(names, codes, { max = 12 } = {}) {
  const counts = new Map();
  for (let i = 0; i < codes.length; i++) counts.set(codes[i], (counts.get(codes[i]) || 0) + 1);
  const entries = [...counts.entries()]
    .map(([code, count]) => ({ code, name: names[code] ?? String(code), color: categoryColor(code), count }))
    .sort((a, b) => b.count - a.count || a.code - b.code);
  const shown = entries.slice(0, max);
  const rest = entries.slice(max).reduce((s, e) => s + e.count, 0);
  return { entries: shown, hidden: entries.length - shown.length, hiddenCount: rest };
}

/** Render a legend into `el` (replaces its content). */
export function renderLegend(el, title, names, codes, opts = {}) {
  const { entries, hidden, hiddenCount } = legendEntries(names, codes, opts);
  el.replaceChildren();
  if (title) {
    const h = document.createElement('div');
    h.className = 'mc-legend-title';
    h.textContent = title;
    el.appendChild(h);
  }
  for (const e of entries) {
    const row = document.createElement('div');
    row.className = 'mc-legend-row';
    const sw = document.createElement('span');
    sw.className = 'mc-swatch';
    sw.style.background = e.color;
    const label = document.createElement('span');
    label.textContent = `${e.name} (${e.count})`;
    row.append(sw, label);
    el.appendChild(row);
  }
  if (hidden > 0) {
    const more = document.createElement('div');
    more.className = 'mc-legend-more';
    more.textContent = `+${hidden} more (${hiddenCount} points)`;
    el.appendChild(more);
  }
}
