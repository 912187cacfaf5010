// Styles of the concept explorer, scoped under .xw-explorer: the rules every widget shares
// (lib/styles) and the explorer's own. Lit items get an amber halo and a dark outline: a
// shape and a luminance change, readable with any colour vision, distinct from the
// blue-white-red contribution palette.

import { baseCss, segmentCss } from "./lib/styles";

export const CONCEPT_EXPLORER_CSS = `${baseCss(".xw-explorer", ".xw-select")}
.xw-explorer { position: relative; --xw-lit: #ffb000; --xw-ink: #111; }
.xw-explorer [hidden] { display: none !important; }
.xw-explorer .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-explorer .xw-class-list {
  display: flex; flex-wrap: wrap; width: fit-content; max-width: 100%; margin: 0 0 10px;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden;
}
${segmentCss(".xw-explorer", ".xw-class")}
.xw-explorer .xw-class { display: flex; gap: 5px; align-items: baseline; padding: 4px 10px; background: var(--xw-bg); }
.xw-explorer .xw-class-kind { font-size: 11px; opacity: .8; }
.xw-explorer .xw-class-prob { font-variant-numeric: tabular-nums; font-size: 11px; opacity: .8; }
.xw-explorer .xw-views { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.xw-explorer .xw-panel { margin: 0; display: flex; flex-direction: column; gap: 6px; max-width: 300px; }
.xw-explorer .xw-stage { position: relative; }
.xw-explorer .xw-canvas { display: block; background: var(--xw-bg-alt); }
.xw-explorer .xw-patches { position: absolute; left: 0; top: 0; overflow: visible; }
.xw-explorer .xw-patch { cursor: pointer; }
.xw-explorer .xw-patch-outline { fill: none; stroke-width: 1.6; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-patch[data-present="false"] .xw-patch-outline { stroke-dasharray: 4 3; }
.xw-explorer .xw-patch-halo { fill: none; stroke: var(--xw-lit); stroke-width: 7; vector-effect: non-scaling-stroke; opacity: 0; }
.xw-explorer .xw-patch-hit { fill: transparent; stroke: none; }
.xw-explorer .xw-patch[data-state="related"] .xw-patch-halo { opacity: .55; }
.xw-explorer .xw-patch[data-state="selected"] .xw-patch-halo { opacity: 1; }
.xw-explorer .xw-patch[data-state="selected"] .xw-patch-outline,
.xw-explorer .xw-patch[data-state="related"] .xw-patch-outline { stroke: var(--xw-ink); stroke-width: 2.4; }
.xw-explorer .xw-badge { stroke: var(--xw-ink); stroke-width: 1; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-badge-text, .xw-explorer .xw-node-text {
  font-weight: 700; text-anchor: middle; dominant-baseline: central; pointer-events: none;
  font-family: inherit;
}
.xw-explorer .xw-caption { font-size: 12px; color: var(--xw-muted); min-height: 2.8em; overflow-wrap: anywhere; }
.xw-explorer .xw-opacity-row { display: flex; align-items: center; gap: 8px; }
.xw-explorer .xw-opacity { flex: 1; }
.xw-explorer .xw-graph { display: block; position: relative; overflow: visible; }
.xw-explorer .xw-backdrop { position: absolute; left: 0; top: 0; opacity: .35; background: var(--xw-bg-alt); }
.xw-explorer .xw-graph:focus { outline: none; }
.xw-explorer .xw-graph-frame[data-backdrop="true"] { fill: none; }
.xw-explorer .xw-graph-frame { fill: var(--xw-bg-alt); stroke: var(--xw-border); stroke-width: 1; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-band-line { stroke: var(--xw-border); stroke-dasharray: 4 3; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-band-label { fill: var(--xw-muted); dominant-baseline: hanging; font-family: inherit; }
.xw-explorer .xw-edge { cursor: pointer; }
.xw-explorer .xw-edge-line { stroke-linecap: round; }
.xw-explorer .xw-edge-case { stroke: var(--xw-ink); stroke-linecap: round; opacity: .45; }
.xw-explorer .xw-edge-halo { stroke: var(--xw-lit); stroke-linecap: round; opacity: 0; }
.xw-explorer .xw-edge-head { stroke: var(--xw-ink); stroke-width: .6; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-edge-hit { stroke: transparent; }
.xw-explorer .xw-edge[data-state="related"] .xw-edge-halo { opacity: .5; }
.xw-explorer .xw-edge[data-state="selected"] .xw-edge-halo { opacity: 1; }
.xw-explorer .xw-node { cursor: pointer; outline: none; }
.xw-explorer .xw-node-disc { stroke: var(--xw-ink); stroke-width: 1.2; vector-effect: non-scaling-stroke; }
.xw-explorer .xw-node[data-present="false"] .xw-node-disc { stroke-dasharray: 3 2; }
.xw-explorer .xw-node-halo { fill: var(--xw-lit); opacity: 0; }
.xw-explorer .xw-node[data-state="related"] .xw-node-halo { opacity: .45; }
.xw-explorer .xw-node[data-state="selected"] .xw-node-halo { opacity: .95; }
.xw-explorer .xw-node[data-selected="true"] .xw-node-disc { stroke-width: 3; }
.xw-explorer .xw-node:focus-visible .xw-node-disc { stroke: var(--xw-accent); stroke-width: 3.5; }
.xw-explorer .xw-legend { display: flex; flex-direction: column; gap: 3px; }
.xw-explorer .xw-ramp { height: 10px; border-radius: 3px; border: 1px solid var(--xw-border); }
.xw-explorer .xw-ticks { display: flex; justify-content: space-between; font-size: 11px; color: var(--xw-muted); font-variant-numeric: tabular-nums; }
.xw-explorer .xw-note { font-size: 11px; color: var(--xw-muted); }
.xw-explorer .xw-text-panel { margin-top: 12px; max-width: 640px; }
.xw-explorer .xw-question { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
.xw-explorer .xw-sentence { margin: 0; line-height: 1.7; overflow-wrap: anywhere; }
.xw-explorer .xw-muted { color: var(--xw-muted); }
.xw-explorer .xw-phrase {
  text-decoration-line: underline; text-decoration-thickness: 2px; text-underline-offset: 3px;
  border-radius: 3px; padding: 0 1px; cursor: pointer;
}
.xw-explorer .xw-phrase[data-kind="edge"] { text-decoration-style: dashed; }
.xw-explorer .xw-phrase[data-state="related"] { background: color-mix(in srgb, var(--xw-lit) 30%, transparent); }
.xw-explorer .xw-phrase[data-state="selected"] { background: color-mix(in srgb, var(--xw-lit) 70%, transparent); color: var(--xw-ink); }
.xw-explorer .xw-phrase:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-explorer .xw-tooltip {
  position: absolute; z-index: 10; pointer-events: none; max-width: 260px;
  padding: 5px 8px; border-radius: var(--xw-radius); font-size: 12px; line-height: 1.35;
  background: var(--xw-ink); color: #fff; box-shadow: 0 2px 8px rgba(0, 0, 0, .25);
  font-variant-numeric: tabular-nums; overflow-wrap: anywhere;
}
.xw-explorer .xw-tooltip-title { font-weight: 600; }
`;
