// Styles of the saliency viewer, scoped under .xw-saliency. JupyterLab theme variables are
// used when present (light and dark themes), with neutral fallbacks for reports and other hosts.

export const SALIENCY_VIEWER_CSS = `
.xw-saliency {
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
.xw-saliency *, .xw-saliency *::before, .xw-saliency *::after { box-sizing: border-box; }
.xw-saliency .xw-header { margin: 0 0 10px; }
.xw-saliency .xw-title { font-size: 14px; font-weight: 600; margin: 0; overflow-wrap: anywhere; }
.xw-saliency .xw-method { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-saliency .xw-method-list {
  display: flex; flex-wrap: wrap; gap: 0; margin: 8px 0 2px; width: fit-content; max-width: 100%;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden;
}
.xw-saliency .xw-method-list[hidden] { display: none; }
.xw-saliency .xw-method-tab {
  padding: 4px 12px; border: 0; border-right: 1px solid var(--xw-border); background: var(--xw-bg);
  color: inherit; font: inherit; font-size: 12px; cursor: pointer; white-space: nowrap;
}
.xw-saliency .xw-method-tab:last-child { border-right: 0; }
.xw-saliency .xw-method-tab:hover { background: var(--xw-bg-alt); }
.xw-saliency .xw-method-tab[aria-checked="true"] { background: var(--xw-accent); color: #fff; font-weight: 600; }
.xw-saliency .xw-method-tab:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
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
.xw-saliency .xw-readout[data-active="true"] { color: var(--xw-fg); }
.xw-saliency .xw-panel { display: flex; flex-direction: column; gap: 12px; width: 240px; max-width: 100%; }
.xw-saliency .xw-heading {
  font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  color: var(--xw-muted); margin: 0;
}
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
.xw-saliency .xw-opacity-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; }
.xw-saliency .xw-opacity { width: 100%; margin: 0; accent-color: var(--xw-accent); }
.xw-saliency .xw-colormap {
  width: 100%; padding: 4px 6px; font: inherit; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-saliency .xw-note { font-size: 11px; color: var(--xw-muted); margin-top: 2px; }
.xw-saliency .xw-note[hidden], .xw-saliency .xw-colorbar-mid[hidden] { display: none; }
.xw-saliency .xw-colormap:focus-visible, .xw-saliency .xw-opacity:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
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
.xw-saliency .xw-error {
  margin-top: 10px; padding: 6px 8px; border-radius: var(--xw-radius);
  background: #fdecea; color: #8a1c12; font-size: 12px;
}
.xw-saliency .xw-error[hidden] { display: none; }
`;
