// Styles of the attention flow viewer, scoped under .xw-attnflow: the rules every widget
// shares (lib/styles) and the viewer's own.

import { baseCss, segmentCss } from "./lib/styles";

export const ATTENTION_FLOW_CSS = `${baseCss(".xw-attnflow", ".xw-select")}
.xw-attnflow [hidden] { display: none !important; }
.xw-attnflow .xw-method { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-attnflow .xw-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.xw-attnflow .xw-stage { margin: 0; display: flex; flex-direction: column; gap: 6px; max-width: 320px; }
.xw-attnflow .xw-canvas { display: block; background: var(--xw-bg-alt); cursor: crosshair; touch-action: none; }
.xw-attnflow .xw-caption { font-variant-numeric: tabular-nums; font-weight: 600; min-height: 1.4em; }
.xw-attnflow .xw-block-name { color: var(--xw-muted); font-size: 11px; overflow-wrap: anywhere; min-height: 1.3em; }
.xw-attnflow .xw-slider-row { display: flex; align-items: center; gap: 8px; }
.xw-attnflow .xw-block-slider { flex: 1; margin: 0; accent-color: var(--xw-accent); }
.xw-attnflow .xw-block-slider:focus-visible, .xw-attnflow .xw-play:focus-visible {
  outline: 2px solid var(--xw-accent); outline-offset: 1px;
}
.xw-attnflow .xw-block-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; min-width: 3.5em; text-align: right; }
.xw-attnflow .xw-play {
  width: 30px; height: 26px; padding: 0; font: inherit; font-size: 11px; color: inherit; cursor: pointer;
  background: var(--xw-bg); border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-attnflow .xw-play:disabled, .xw-attnflow .xw-block-slider:disabled { opacity: .5; cursor: default; }
.xw-attnflow .xw-view-list {
  display: flex; width: fit-content; max-width: 100%;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden;
}
${segmentCss(".xw-attnflow", ".xw-view")}
.xw-attnflow .xw-view { padding: 4px 12px; background: var(--xw-bg); }
.xw-attnflow .xw-readout {
  font-variant-numeric: tabular-nums; font-size: 12px; color: var(--xw-muted); min-height: 1.4em;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px;
}
.xw-attnflow .xw-visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
.xw-attnflow .xw-panel { display: flex; flex-direction: column; gap: 12px; width: 240px; max-width: 100%; }
.xw-attnflow .xw-control { display: flex; flex-direction: column; gap: 4px; }
.xw-attnflow .xw-control-row { display: flex; justify-content: space-between; align-items: baseline; }
.xw-attnflow .xw-opacity { width: 100%; }
.xw-attnflow .xw-select {
  width: 100%; padding: 4px 6px; font: inherit; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-attnflow .xw-class-list {
  display: flex; flex-direction: column; gap: 2px; max-height: 200px; overflow-y: auto; padding: 2px; margin: -2px;
}
.xw-attnflow .xw-class {
  display: flex; justify-content: space-between; gap: 8px; width: 100%; padding: 5px 8px;
  border: 1px solid transparent; border-radius: var(--xw-radius);
  background: transparent; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
.xw-attnflow .xw-class:hover { background: var(--xw-bg-alt); }
.xw-attnflow .xw-class:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-attnflow .xw-class[aria-checked="true"] { border-color: var(--xw-accent); background: var(--xw-accent-soft); }
.xw-attnflow .xw-class-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xw-attnflow .xw-class[aria-checked="true"] .xw-class-label { font-weight: 600; }
.xw-attnflow .xw-class-prob { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; }
.xw-attnflow .xw-colorbar-ramp { height: 10px; border-radius: 3px; border: 1px solid var(--xw-border); }
.xw-attnflow .xw-colorbar-ticks {
  display: flex; justify-content: space-between; font-size: 11px; color: var(--xw-muted);
  font-variant-numeric: tabular-nums; margin-top: 2px;
}
.xw-attnflow .xw-note { font-size: 11px; color: var(--xw-muted); }
`;
