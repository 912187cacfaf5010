// Styles of the mask optimisation viewer, scoped under .xw-maskopt: the rules every widget
// shares (lib/styles) and the viewer's own.

import { baseCss, panelCss, radioListCss, readoutCss, stepControlCss } from "./lib/styles";

const S = ".xw-maskopt";

export const MASK_VIEWER_CSS = `${baseCss(S, ".xw-select")}
${S} [hidden] { display: none !important; }
${S} .xw-status { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
${S} .xw-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
${S} .xw-stage { margin: 0; display: flex; flex-direction: column; gap: 6px; }
${S} .xw-canvas { display: block; background: var(--xw-bg-alt); cursor: crosshair; touch-action: none; }
${S} .xw-step-text { font-variant-numeric: tabular-nums; font-weight: 600; min-height: 1.4em; }
${stepControlCss(S, "step", "4.5em")}
${S} .xw-follow input:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
${S} .xw-follow { font-size: 12px; color: var(--xw-muted); display: flex; align-items: center; gap: 4px; }
${readoutCss(S)}
${panelCss(S, ".xw-select")}
${radioListCss(S, "xw-row-list", "xw-row", "display: flex; flex-direction: column; gap: 1px;")}
${S} .xw-row-detail { color: var(--xw-muted); font-size: 11px; }
${S} .xw-spark { display: block; border-radius: 4px; background: var(--xw-bg-alt); }
`;
