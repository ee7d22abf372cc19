// Light or dark: follows the host page (JupyterLab, VS Code, plain HTML) and its theme switches.
import { luminance, themeColors } from './colors.js';

function isDarkPage(el) {
  const body = document.body;
  if (body?.dataset?.jpThemeLight === 'false') return true;
  if (body?.dataset?.jpThemeLight === 'true') return false;
  if (body?.classList?.contains('vscode-dark')) return true;
  let node = el;
  while (node && node !== document.documentElement) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && !/rgba\(0, 0, 0, 0\)|transparent/.test(bg)) return luminance(bg) < 0.4;
    node = node.parentElement;
  }
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

/** Theme colours plus `dark` for the page around `el`. */
export function pageTheme(el) {
  const dark = isDarkPage(el);
  return { ...themeColors(dark), dark };
}

/** Calls onChange(theme) when the page switches between light and dark (JupyterLab toggles
 * data-jp-theme-light on <body>); returns a function that stops watching. */
export function watchTheme(el, current, onChange) {
  let dark = current.dark;
  const observer = new MutationObserver(() => {
    const t = pageTheme(el);
    if (t.dark === dark) return;
    dark = t.dark;
    onChange(t);
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light', 'class'] });
  return () => observer.disconnect();
}
