// CSS rules every widget shares, scoped under the widget's root class (".xw-saliency",
// ".xw-compare"): JupyterLab theme variables when present (light and dark themes) with
// neutral fallbacks for reports and other hosts, the frame, header, headings, opacity
// slider, read-out and error box, and the segments of a radio group of buttons.

/** The shared rules under `scope`; `select` is the class (with its dot) of the widget's selects. */
export function baseCss(scope: string, select: string): string {
  return `
${scope} {
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
${scope} *, ${scope} *::before, ${scope} *::after { box-sizing: border-box; }
${scope} .xw-header { margin: 0 0 10px; }
${scope} .xw-title { font-size: 14px; font-weight: 600; margin: 0; overflow-wrap: anywhere; }
${scope} .xw-heading {
  font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: var(--xw-muted); margin: 0;
}
${scope} .xw-opacity { margin: 0; accent-color: var(--xw-accent); }
${scope} .xw-opacity-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; }
${scope} ${select}:focus-visible, ${scope} .xw-opacity:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
${scope} .xw-readout[data-active="true"] { color: var(--xw-fg); }
${scope} .xw-error {
  margin-top: 10px; padding: 6px 8px; border-radius: var(--xw-radius);
  background: #fdecea; color: #8a1c12; font-size: 12px;
}
`;
}

/**
 * Buttons `segment` (with its dot) side by side in a bordered group, the checked one in the
 * accent colour; the widget sets their padding and background.
 */
export function segmentCss(scope: string, segment: string): string {
  return `
${scope} ${segment} {
  border: 0; border-right: 1px solid var(--xw-border);
  color: inherit; font: inherit; font-size: 12px; cursor: pointer; white-space: nowrap;
}
${scope} ${segment}:last-child { border-right: 0; }
${scope} ${segment}:hover { background: var(--xw-bg-alt); }
${scope} ${segment}[aria-checked="true"] { background: var(--xw-accent); color: #fff; font-weight: 600; }
${scope} ${segment}:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
`;
}

/**
 * A viewer's side panel under `scope`: the column of `.xw-control` sections (a
 * `.xw-control-row` of label and value over the opacity slider), full-width selects
 * `select` (with its dot) and the colour bar's ramp and ticks.
 */
export function panelCss(scope: string, select: string): string {
  return `
${scope} .xw-panel { display: flex; flex-direction: column; gap: 12px; width: 240px; max-width: 100%; }
${scope} .xw-control { display: flex; flex-direction: column; gap: 4px; }
${scope} .xw-control-row { display: flex; justify-content: space-between; align-items: baseline; }
${scope} .xw-opacity { width: 100%; }
${scope} ${select} {
  width: 100%; padding: 4px 6px; font: inherit; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
${scope} .xw-colorbar-ramp { height: 10px; border-radius: 3px; border: 1px solid var(--xw-border); }
${scope} .xw-colorbar-ticks {
  display: flex; justify-content: space-between; font-size: 11px; color: var(--xw-muted);
  font-variant-numeric: tabular-nums; margin-top: 2px;
}
`;
}

/**
 * The slider row of lib/step_control.ts under `scope` (`name` as given there): play button,
 * slider and its value (`valueWidth` wide), and the visually hidden label.
 */
export function stepControlCss(scope: string, name: string, valueWidth: string): string {
  return `
${scope} .xw-slider-row { display: flex; align-items: center; gap: 8px; }
${scope} .xw-${name}-slider { flex: 1; margin: 0; accent-color: var(--xw-accent); }
${scope} .xw-${name}-slider:focus-visible, ${scope} .xw-play:focus-visible {
  outline: 2px solid var(--xw-accent); outline-offset: 1px;
}
${scope} .xw-${name}-value { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; min-width: ${valueWidth}; text-align: right; }
${scope} .xw-play {
  width: 30px; height: 26px; padding: 0; font: inherit; font-size: 11px; color: inherit; cursor: pointer;
  background: var(--xw-bg); border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
${scope} .xw-play:disabled, ${scope} .xw-${name}-slider:disabled { opacity: .5; cursor: default; }
${scope} .xw-visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
`;
}

/** The one-line hover read-out under a 320-pixel canvas. */
export function readoutCss(scope: string): string {
  return `
${scope} .xw-readout {
  font-variant-numeric: tabular-nums; font-size: 12px; color: var(--xw-muted); min-height: 1.4em;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px;
}
`;
}

/**
 * A scrolling column `list` of radio buttons `item` (class names without the dot) under
 * `scope`, laid out by `layout` (declarations), the checked one outlined, its `<item>-label`
 * bold and cut with an ellipsis.
 */
export function radioListCss(scope: string, list: string, item: string, layout: string): string {
  return `
${scope} .${list} {
  display: flex; flex-direction: column; gap: 2px; max-height: 200px; overflow-y: auto; padding: 2px; margin: -2px;
}
${scope} .${item} {
  ${layout} width: 100%; padding: 5px 8px;
  border: 1px solid transparent; border-radius: var(--xw-radius);
  background: transparent; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
${scope} .${item}:hover { background: var(--xw-bg-alt); }
${scope} .${item}:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
${scope} .${item}[aria-checked="true"] { border-color: var(--xw-accent); background: var(--xw-accent-soft); }
${scope} .${item}-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
${scope} .${item}[aria-checked="true"] .${item}-label { font-weight: 600; }
`;
}

/**
 * A bordered group `.xw-segments` of radio buttons `.xw-segment` under `scope` (see
 * segmentCss), and the plain `.xw-button`; `disabled` dims a disabled one.
 */
export function filterBarCss(scope: string, disabled: boolean): string {
  return `
${scope} .xw-segments { display: flex; border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden; }
${segmentCss(scope, ".xw-segment")}
${scope} .xw-segment { padding: 3px 9px; background: var(--xw-bg); }
${scope} .xw-count { color: var(--xw-muted); font-size: 12px; font-variant-numeric: tabular-nums; }
${scope} .xw-button {
  font: inherit; font-size: 12px; padding: 2px 9px; border: 1px solid var(--xw-border);
  border-radius: var(--xw-radius); background: var(--xw-bg); color: inherit; cursor: pointer;
}
${disabled ? `${scope} .xw-button:disabled { opacity: .45; cursor: default; }\n` : ""}${scope} .xw-button:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
`;
}

/** The grid of thumbnail buttons `.xw-thumb` (pressed: the one opened) under `scope`. */
export function thumbGridCss(
  scope: string,
  { maxHeight, thumb, gap, padding }: { maxHeight: string; thumb: string; gap: string; padding: string },
): string {
  return `
${scope} .xw-grid {
  display: grid; gap: 8px; max-height: ${maxHeight}; overflow-y: auto; padding: 2px;
  grid-template-columns: repeat(auto-fill, minmax(var(--xw-thumb, ${thumb}), 1fr));
}
${scope} .xw-thumb {
  display: flex; flex-direction: column; gap: ${gap}; align-items: stretch; text-align: left;
  padding: ${padding}; border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
  background: var(--xw-bg); color: inherit; font: inherit; cursor: pointer; min-width: 0;
}
${scope} .xw-thumb:hover { background: var(--xw-bg-alt); }
${scope} .xw-thumb:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
${scope} .xw-thumb[aria-pressed="true"] { border-color: var(--xw-accent); box-shadow: 0 0 0 2px var(--xw-accent); }
`;
}
