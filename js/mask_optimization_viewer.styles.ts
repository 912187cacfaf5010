// Styles of the mask optimisation viewer, scoped under .xw-maskopt: the rules every widget
// shares (lib/styles) and the viewer's own.

import { baseCss } from "./lib/styles";

export const MASK_VIEWER_CSS = `${baseCss(".xw-maskopt", ".xw-select")}
.xw-maskopt [hidden] { display: none !important; }
.xw-maskopt .xw-status { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-maskopt .xw-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.xw-maskopt .xw-stage { margin: 0; display: flex; flex-direction: column; gap: 6px; }
.xw-maskopt .xw-canvas { display: block; background: var(--xw-bg-alt); cursor: crosshair; touch-action: none; }
.xw-maskopt .xw-step-text { font-variant-numeric: tabular-nums; font-weight: 600; min-height: 1.4em; }
.xw-maskopt .xw-slider-row { display: flex; align-items: center; gap: 8px; }
.xw-maskopt .xw-step-slider { flex: 1; margin: 0; accent-color: var(--xw-accent); }
.xw-maskopt .xw-step-slider:focus-visible, .xw-maskopt .xw-play:focus-visible, .xw-maskopt .xw-follow input:focus-visible {
  outline: 2px solid var(--xw-accent); outline-offset: 1px;
}
.xw-maskopt .xw-step-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; min-width: 4.5em; text-align: right; }
.xw-maskopt .xw-play {
  width: 30px; height: 26px; padding: 0; font: inherit; font-size: 11px; color: inherit; cursor: pointer;
  background: var(--xw-bg); border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-maskopt .xw-play:disabled, .xw-maskopt .xw-step-slider:disabled { opacity: .5; cursor: default; }
.xw-maskopt .xw-follow { font-size: 12px; color: var(--xw-muted); display: flex; align-items: center; gap: 4px; }
.xw-maskopt .xw-readout {
  font-variant-numeric: tabular-nums; font-size: 12px; color: var(--xw-muted); min-height: 1.4em;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px;
}
.xw-maskopt .xw-visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
.xw-maskopt .xw-panel { display: flex; flex-direction: column; gap: 12px; width: 240px; max-width: 100%; }
.xw-maskopt .xw-control { display: flex; flex-direction: column; gap: 4px; }
.xw-maskopt .xw-control-row { display: flex; justify-content: space-between; align-items: baseline; }
.xw-maskopt .xw-opacity { width: 100%; }
.xw-maskopt .xw-select {
  width: 100%; padding: 4px 6px; font: inherit; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-maskopt .xw-row-list {
  display: flex; flex-direction: column; gap: 2px; max-height: 200px; overflow-y: auto; padding: 2px; margin: -2px;
}
.xw-maskopt .xw-row {
  display: flex; flex-direction: column; gap: 1px; width: 100%; padding: 5px 8px;
  border: 1px solid transparent; border-radius: var(--xw-radius);
  background: transparent; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
.xw-maskopt .xw-row:hover { background: var(--xw-bg-alt); }
.xw-maskopt .xw-row:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-maskopt .xw-row[aria-checked="true"] { border-color: var(--xw-accent); background: var(--xw-accent-soft); }
.xw-maskopt .xw-row[aria-checked="true"] .xw-row-label { font-weight: 600; }
.xw-maskopt .xw-row-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xw-maskopt .xw-row-detail { color: var(--xw-muted); font-size: 11px; }
.xw-maskopt .xw-colorbar-ramp { height: 10px; border-radius: 3px; border: 1px solid var(--xw-border); }
.xw-maskopt .xw-colorbar-ticks {
  display: flex; justify-content: space-between; font-size: 11px; color: var(--xw-muted);
  font-variant-numeric: tabular-nums; margin-top: 2px;
}
.xw-maskopt .xw-spark { display: block; border-radius: 4px; background: var(--xw-bg-alt); }
`;
