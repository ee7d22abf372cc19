// Widget CSS (inlined in the bundle so the widget works offline and in every front-end).
export const CSS = `
.mc-root { --mc-fg: #1f1f1f; --mc-bg: #ffffff; --mc-panel: #f5f5f5; --mc-border: #d0d0d0; --mc-accent: #ff00ff;
  font: 12px/1.35 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--mc-fg); background: var(--mc-bg);
  border: 1px solid var(--mc-border); border-radius: 4px; position: relative; outline: none; }
.mc-root.mc-dark { --mc-fg: #e6e6e6; --mc-bg: #1e1e1e; --mc-panel: #2a2a2a; --mc-border: #444; }
.mc-root:focus-visible { box-shadow: 0 0 0 2px #4e79a7; }
.mc-toolbar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; padding: 4px 6px;
  background: var(--mc-panel); border-bottom: 1px solid var(--mc-border); }
.mc-group { display: inline-flex; gap: 2px; }
.mc-btn { font: inherit; color: var(--mc-fg); background: var(--mc-bg); border: 1px solid var(--mc-border);
  border-radius: 3px; padding: 2px 7px; cursor: pointer; }
.mc-btn:hover { border-color: #4e79a7; }
.mc-btn:focus-visible { outline: 2px solid #4e79a7; outline-offset: 1px; }
.mc-btn[aria-pressed='true'] { background: #4e79a7; color: #fff; border-color: #4e79a7; }
.mc-lbl { display: inline-flex; gap: 3px; align-items: center; }
.mc-lbl input[type=range] { width: 70px; }
.mc-root select, .mc-root input[type=text] { font: inherit; color: var(--mc-fg); background: var(--mc-bg);
  border: 1px solid var(--mc-border); border-radius: 3px; padding: 1px 4px; }
.mc-notice { display: none; padding: 3px 8px; background: #fff4d6; color: #4d3900; border-bottom: 1px solid #e3c46a; }
.mc-root.mc-dark .mc-notice { background: #3b3010; color: #f2dfa6; border-color: #7a6424; }
.mc-views { display: flex; gap: 4px; height: var(--mc-height, 420px); }
.mc-view { position: relative; flex: 1 1 0; min-width: 0; display: flex; flex-direction: column; }
.mc-view-title { position: absolute; left: 6px; top: 4px; z-index: 2; font-weight: 600; opacity: .7; pointer-events: none; }
.mc-canvas-box { position: relative; flex: 1 1 auto; min-height: 0; overflow: hidden; }
.mc-canvas-box canvas { position: absolute; left: 0; top: 0; }
.mc-overlay { pointer-events: none; }
.mc-canvas-box.mc-mode-lasso { cursor: crosshair; }
.mc-legend { position: absolute; right: 6px; top: 6px; max-height: 60%; overflow: auto; padding: 4px 6px;
  background: color-mix(in srgb, var(--mc-bg) 85%, transparent); border: 1px solid var(--mc-border); border-radius: 3px; }
.mc-legend:empty { display: none; }
.mc-legend { font-size: 11px; cursor: pointer; opacity: .92; }
.mc-legend.mc-legend-collapsed .mc-legend-row, .mc-legend.mc-legend-collapsed .mc-legend-more { display: none; }
.mc-legend-title { font-weight: 600; margin-bottom: 2px; }
.mc-legend-row { display: flex; gap: 4px; align-items: center; white-space: nowrap; }
.mc-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; }
.mc-swatch.mc-ring { background: transparent; border: 2px solid; width: 8px; height: 8px; }
.mc-busy { position: absolute; left: 50%; top: 40%; transform: translate(-50%, -50%); padding: 6px 10px;
  background: var(--mc-panel); border: 1px solid var(--mc-border); border-radius: 4px; display: none; z-index: 3; }
.mc-axis { border-left: 1px solid var(--mc-border); }
.mc-axis-form { display: flex; gap: 4px; align-items: center; padding: 3px 6px; }
.mc-axis-form input { flex: 1 1 0; min-width: 0; }
.mc-axis-empty { position: absolute; top: 45%; left: 10%; right: 10%; text-align: center; opacity: .6; pointer-events: none; }
.mc-axis.mc-axis-has .mc-axis-empty { display: none; }
.mc-axis:not(.mc-axis-has) .mc-canvas-box { visibility: hidden; }
.mc-sets { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; padding: 4px 6px; border-top: 1px solid var(--mc-border); }
.mc-sets-title { font-weight: 600; }
.mc-set { display: inline-flex; gap: 2px; align-items: center; }
.mc-report:empty { display: none; }
.mc-report { padding: 2px 6px; border-top: 1px solid var(--mc-border); }
.mc-report-table { border-collapse: collapse; }
.mc-report-table td, .mc-report-table th { padding: 1px 8px; text-align: right; }
.mc-report-table td:first-child, .mc-report-table th:first-child, .mc-report-table td.mc-single { text-align: left; }
.mc-report { max-height: 160px; overflow: auto; }
.mc-status { padding: 3px 6px; border-top: 1px solid var(--mc-border); background: var(--mc-panel); opacity: .9; }
.mc-tooltip { position: absolute; display: none; z-index: 10; pointer-events: none; max-width: 260px; padding: 4px 6px;
  background: var(--mc-bg); color: var(--mc-fg); border: 1px solid var(--mc-border); border-radius: 4px;
  box-shadow: 0 2px 6px rgba(0,0,0,.25); }
.mc-thumb { display: block; max-width: 96px; max-height: 96px; margin-bottom: 3px; }
.mc-tip-label, .mc-tip-pred { opacity: .8; }
`;
