// Styles of the attention flow viewer, scoped under .xw-attnflow: the rules every widget
// shares (lib/styles) and the viewer's own.

import { baseCss, panelCss, radioListCss, readoutCss, segmentCss, stepControlCss } from "./lib/styles";

const S = ".xw-attnflow";

export const ATTENTION_FLOW_CSS = `${baseCss(S, ".xw-select")}
${S} [hidden] { display: none !important; }
${S} .xw-method { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
${S} .xw-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
${S} .xw-stage { margin: 0; display: flex; flex-direction: column; gap: 6px; max-width: 320px; }
${S} .xw-canvas { display: block; background: var(--xw-bg-alt); cursor: crosshair; touch-action: none; }
${S} .xw-caption { font-variant-numeric: tabular-nums; font-weight: 600; min-height: 1.4em; }
${S} .xw-block-name { color: var(--xw-muted); font-size: 11px; overflow-wrap: anywhere; min-height: 1.3em; }
${stepControlCss(S, "block", "3.5em")}
${S} .xw-view-list {
  display: flex; width: fit-content; max-width: 100%;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden;
}
${segmentCss(S, ".xw-view")}
${S} .xw-view { padding: 4px 12px; background: var(--xw-bg); }
${readoutCss(S)}
${panelCss(S, ".xw-select")}
${radioListCss(S, "xw-class-list", "xw-class", "display: flex; justify-content: space-between; gap: 8px;")}
${S} .xw-class-prob { font-variant-numeric: tabular-nums; color: var(--xw-muted); font-size: 12px; }
${S} .xw-note { font-size: 11px; color: var(--xw-muted); }
`;
