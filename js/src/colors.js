// Colour mapping: categorical palettes, named-set colours, theme awareness.

// Tableau-20-like palette, ordered so that neighbouring codes contrast.
export const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
  '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

// Named-set colours: distinct from the category palette's first hues, readable on light and dark.
export const SET_PALETTE = ['#00a2ff', '#ffb000', '#00c853', '#a259ff', '#ff4d4d', '#3dd6d0', '#c0a000', '#ff6ec7'];

/** Colour of category code i (cycles through the palette; golden-angle hues beyond it). */
export function categoryColor(i) {
  if (i < PALETTE.length) return PALETTE[i];
  const h = (i * 137.508) % 360;
  return hslToHex(h, 0.55, 0.55);
}

/** Hex colours for k categories. */
export function categoryColors(k) {
  return Array.from({ length: Math.max(1, k) }, (_, i) => categoryColor(i));
}

export function setColor(i) {
  return SET_PALETTE[i % SET_PALETTE.length];
}

export function hslToHex(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * c).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** '#rrggbb' -> [r, g, b, a] in 0..1. */
export function hexToRgba(hex, alpha = 1) {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? h.split('').map((c) => c + c).join('') : h;
  const v = parseInt(full, 16);
  if (full.length !== 6 || Number.isNaN(v)) throw new Error(`not a hex colour: ${hex}`);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

/** Relative luminance of a CSS colour string 'rgb(r, g, b)' or '#rrggbb' (0 dark .. 1 light). */
export function luminance(css) {
  let r, g, b;
  const m = /rgba?\(([^)]+)\)/.exec(css || '');
  if (m) {
    const parts = m[1].split(',').map((s) => parseFloat(s));
    if (parts.length === 4 && parts[3] === 0) return 1; // transparent: assume light page
    [r, g, b] = parts.map((v) => v / 255);
  } else if (/^#[0-9a-f]{3,6}$/i.test(css || '')) {
    [r, g, b] = hexToRgba(css);
  } else {
    return 1;
  }
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Theme colours for the widget given whether the page is dark. */
export function themeColors(dark) {
  return dark
    ? { background: '#1e1e1e', foreground: '#e6e6e6', muted: '#9a9a9a', ring: '#ffffff', panel: '#2a2a2a' }
    : { background: '#ffffff', foreground: '#1f1f1f', muted: '#666666', ring: '#222222', panel: '#f5f5f5' };
}
