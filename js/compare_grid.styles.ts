// Styles of the method comparison grid, scoped under .xw-compare. JupyterLab theme variables
// are used when present (light and dark themes), with neutral fallbacks for reports.

export const COMPARE_GRID_CSS = `
.xw-compare {
  --xw-fg: var(--jp-ui-font-color1, #1f2328);
  --xw-muted: var(--jp-ui-font-color2, #59636e);
  --xw-bg: var(--jp-layout-color0, #ffffff);
  --xw-bg-alt: var(--jp-layout-color2, #f3f4f6);
  --xw-border: var(--jp-border-color2, #d1d9e0);
  --xw-accent: var(--jp-brand-color1, #1f6feb);
  --xw-accent-soft: color-mix(in srgb, var(--xw-accent) 14%, transparent);
  --xw-radius: 6px;
  font-family: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
  font-size: 13px;
  line-height: 1.4;
  color: var(--xw-fg);
  background: var(--xw-bg);
  border: 1px solid var(--xw-border);
  border-radius: 8px;
  padding: 12px 14px 14px;
  box-sizing: border-box;
  max-width: 100%;
  display: inline-block;
}
.xw-compare *, .xw-compare *::before, .xw-compare *::after { box-sizing: border-box; }
.xw-compare .xw-header { margin: 0 0 10px; }
.xw-compare .xw-title { font-size: 14px; font-weight: 600; overflow-wrap: anywhere; }
.xw-compare .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-compare [hidden] { display: none !important; }
.xw-compare .xw-toolbar {
  display: flex; flex-wrap: wrap; gap: 10px 20px; align-items: flex-end;
  padding: 8px 10px; margin: 0 0 12px; background: var(--xw-bg-alt); border-radius: var(--xw-radius);
}
.xw-compare .xw-control { display: flex; flex-direction: column; gap: 3px; }
.xw-compare .xw-heading {
  font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: var(--xw-muted); margin: 0;
}
.xw-compare .xw-segmented {
  display: flex; border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden; background: var(--xw-bg);
}
.xw-compare .xw-segment {
  padding: 3px 10px; border: 0; border-right: 1px solid var(--xw-border); background: transparent;
  color: inherit; font: inherit; font-size: 12px; cursor: pointer; white-space: nowrap;
}
.xw-compare .xw-segment:last-child { border-right: 0; }
.xw-compare .xw-segment:hover { background: var(--xw-bg-alt); }
.xw-compare .xw-segment[aria-checked="true"] { background: var(--xw-accent); color: #fff; font-weight: 600; }
.xw-compare .xw-segment:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
.xw-compare .xw-select {
  padding: 3px 6px; font: inherit; font-size: 12px; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); min-width: 110px;
}
.xw-compare .xw-opacity-row { display: flex; align-items: center; gap: 8px; }
.xw-compare .xw-opacity { width: 120px; margin: 0; accent-color: var(--xw-accent); }
.xw-compare .xw-opacity-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; min-width: 3.2em; }
.xw-compare .xw-select:focus-visible, .xw-compare .xw-opacity:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-compare .xw-scroll { overflow-x: auto; padding: 4px; margin: -4px; }
.xw-compare .xw-grid { display: grid; gap: 8px 8px; align-items: center; width: max-content; }
.xw-compare .xw-corner { align-self: end; }
.xw-compare .xw-colhead { align-self: end; min-width: 0; padding: 0 2px 2px; }
.xw-compare .xw-col-caption { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.xw-compare .xw-col-label {
  color: var(--xw-muted); font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  font-variant-numeric: tabular-nums;
}
.xw-compare .xw-col-target {
  font-size: 11px; color: var(--xw-fg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}
.xw-compare .xw-rowhead { min-width: 120px; max-width: 200px; padding-right: 6px; display: flex; flex-direction: column; gap: 2px; }
.xw-compare .xw-row-name { font-weight: 600; overflow-wrap: anywhere; }
.xw-compare .xw-row-detail { color: var(--xw-muted); font-size: 11px; overflow-wrap: anywhere; }
.xw-compare .xw-row-ramp { height: 7px; border-radius: 2px; border: 1px solid var(--xw-border); margin-top: 4px; }
.xw-compare .xw-row-ticks {
  display: flex; justify-content: space-between; gap: 4px; font-size: 10px; color: var(--xw-muted);
  font-variant-numeric: tabular-nums;
}
.xw-compare .xw-rowhead[data-emphasis="true"] .xw-row-name, .xw-compare .xw-colhead[data-emphasis="true"] .xw-col-caption { color: var(--xw-accent); }
.xw-compare .xw-cell {
  position: relative; border-radius: 4px; cursor: crosshair; outline: none;
  box-shadow: 0 0 0 1px var(--xw-border);
  transition: box-shadow .12s ease;
}
.xw-compare .xw-cell:focus-visible { box-shadow: 0 0 0 2px var(--xw-accent); }
.xw-compare .xw-cell[aria-selected="true"] { box-shadow: 0 0 0 3px var(--xw-accent), 0 2px 10px rgba(0, 0, 0, .25); z-index: 1; }
.xw-compare .xw-cell-canvas { display: block; border-radius: 4px; background: var(--xw-bg-alt); touch-action: none; }
.xw-compare .xw-cross { position: absolute; pointer-events: none; background: rgba(255, 255, 255, .9); mix-blend-mode: difference; }
.xw-compare .xw-cross-v { top: 0; bottom: 0; left: 0; width: 1px; }
.xw-compare .xw-cross-h { left: 0; right: 0; top: 0; height: 1px; }
.xw-compare .xw-cell-value, .xw-compare .xw-cell-tag {
  position: absolute; pointer-events: none; font-size: 10.5px; line-height: 1.2; padding: 1px 4px; border-radius: 3px;
  background: rgba(20, 22, 26, .72); color: #fff; font-variant-numeric: tabular-nums; white-space: nowrap;
  max-width: calc(100% - 8px); overflow: hidden; text-overflow: ellipsis;
}
.xw-compare .xw-cell-value { right: 4px; bottom: 4px; }
.xw-compare .xw-cell-tag { left: 4px; top: 4px; }
.xw-compare .xw-readout {
  margin-top: 12px; min-height: 1.5em; font-size: 12px; color: var(--xw-muted);
  display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; font-variant-numeric: tabular-nums;
}
.xw-compare .xw-readout[data-active="true"] { color: var(--xw-fg); }
.xw-compare .xw-readout-where { font-weight: 600; }
.xw-compare .xw-readout-item { display: inline-flex; align-items: center; gap: 5px; }
.xw-compare .xw-swatch { width: 10px; height: 10px; border-radius: 2px; box-shadow: 0 0 0 1px rgba(0, 0, 0, .25); }
.xw-compare .xw-error {
  margin-top: 10px; padding: 6px 8px; border-radius: var(--xw-radius);
  background: #fdecea; color: #8a1c12; font-size: 12px;
}
`;
