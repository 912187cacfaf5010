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
