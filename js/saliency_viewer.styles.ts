// Styles of the saliency viewer, scoped under .xw-saliency: the rules every widget shares
// (lib/styles) and the viewer's own.

import { baseCss, segmentCss } from "./lib/styles";

export const SALIENCY_VIEWER_CSS = `${baseCss(".xw-saliency", ".xw-colormap")}
.xw-saliency .xw-method { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-saliency .xw-method-list {
  display: flex; flex-wrap: wrap; gap: 0; margin: 8px 0 2px; width: fit-content; max-width: 100%;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden;
}
.xw-saliency .xw-method-list[hidden] { display: none; }
${segmentCss(".xw-saliency", ".xw-method-tab")}
.xw-saliency .xw-method-tab { padding: 4px 12px; background: var(--xw-bg); }
.xw-saliency .xw-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.xw-saliency .xw-stage { margin: 0; display: flex; flex-direction: column; gap: 6px; }
.xw-saliency .xw-canvas {
  display: block;
  background: var(--xw-bg-alt);
  cursor: crosshair;
  touch-action: none;
}
.xw-saliency .xw-readout {
  font-variant-numeric: tabular-nums;
  font-size: 12px;
  color: var(--xw-muted);
  min-height: 1.4em;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
}
.xw-saliency .xw-panel { display: flex; flex-direction: column; gap: 12px; width: 240px; max-width: 100%; }
.xw-saliency .xw-class-list {
  display: flex; flex-direction: column; gap: 2px; max-height: 232px; overflow-y: auto;
  padding: 2px; margin: -2px;
}
.xw-saliency .xw-class {
  display: grid; grid-template-columns: minmax(0, 1fr) auto; column-gap: 8px; row-gap: 4px;
  width: 100%; padding: 6px 8px; border: 1px solid transparent; border-radius: var(--xw-radius);
  background: transparent; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
.xw-saliency .xw-class:hover { background: var(--xw-bg-alt); }
.xw-saliency .xw-class:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-saliency .xw-class[aria-checked="true"] { border-color: var(--xw-accent); background: var(--xw-accent-soft); }
.xw-saliency .xw-class-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xw-saliency .xw-class[aria-checked="true"] .xw-class-label { font-weight: 600; }
.xw-saliency .xw-class-prob { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; }
.xw-saliency .xw-class-track {
  grid-column: 1 / -1; height: 3px; border-radius: 2px; overflow: hidden;
  background: color-mix(in srgb, var(--xw-muted) 18%, transparent);
}
.xw-saliency .xw-class-bar { display: block; height: 100%; background: var(--xw-accent); opacity: .7; }
.xw-saliency .xw-control { display: flex; flex-direction: column; gap: 4px; }
.xw-saliency .xw-control-row { display: flex; justify-content: space-between; align-items: baseline; }
.xw-saliency .xw-opacity { width: 100%; }
.xw-saliency .xw-colormap {
  width: 100%; padding: 4px 6px; font: inherit; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-saliency .xw-note { font-size: 11px; color: var(--xw-muted); margin-top: 2px; }
.xw-saliency .xw-note[hidden], .xw-saliency .xw-colorbar-mid[hidden] { display: none; }
.xw-saliency .xw-colorbar-ramp { position: relative; height: 10px; border-radius: 3px; border: 1px solid var(--xw-border); }
.xw-saliency .xw-colorbar-marker {
  position: absolute; top: -4px; bottom: -4px; width: 3px; margin-left: -1.5px;
  background: var(--xw-bg); border: 1px solid var(--xw-fg); border-radius: 2px;
}
.xw-saliency .xw-colorbar-marker[hidden] { display: none; }
.xw-saliency .xw-colorbar-ticks {
  display: flex; justify-content: space-between; font-size: 11px; color: var(--xw-muted);
  font-variant-numeric: tabular-nums; margin-top: 2px;
}
.xw-saliency .xw-error[hidden] { display: none; }
.xw-saliency .xw-points[hidden] { display: none; }
.xw-saliency .xw-points-row { display: flex; gap: 6px; align-items: center; }
.xw-saliency .xw-points-toggle { margin: 0; accent-color: var(--xw-accent); }
`;
