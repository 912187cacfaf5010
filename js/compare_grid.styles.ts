// Styles of the method comparison grid, scoped under .xw-compare: the rules every widget
// shares (lib/styles) and the grid's own.

import { baseCss, segmentCss } from "./lib/styles";

export const COMPARE_GRID_CSS = `${baseCss(".xw-compare", ".xw-select")}
.xw-compare .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-compare [hidden] { display: none !important; }
.xw-compare .xw-toolbar {
  display: flex; flex-wrap: wrap; gap: 10px 20px; align-items: flex-end;
  padding: 8px 10px; margin: 0 0 12px; background: var(--xw-bg-alt); border-radius: var(--xw-radius);
}
.xw-compare .xw-control { display: flex; flex-direction: column; gap: 3px; }
.xw-compare .xw-segmented {
  display: flex; border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden; background: var(--xw-bg);
}
${segmentCss(".xw-compare", ".xw-segment")}
.xw-compare .xw-segment { padding: 3px 10px; background: transparent; }
.xw-compare .xw-select {
  padding: 3px 6px; font: inherit; font-size: 12px; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); min-width: 110px;
}
.xw-compare .xw-opacity-row { display: flex; align-items: center; gap: 8px; }
.xw-compare .xw-opacity { width: 120px; }
.xw-compare .xw-opacity-value { min-width: 3.2em; }
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
.xw-compare .xw-readout-where { font-weight: 600; }
.xw-compare .xw-readout-item { display: inline-flex; align-items: center; gap: 5px; }
.xw-compare .xw-swatch { width: 10px; height: 10px; border-radius: 2px; box-shadow: 0 0 0 1px rgba(0, 0, 0, .25); }
`;
