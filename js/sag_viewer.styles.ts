// Styles of the structured attention graph viewer, scoped under .xw-sag: the rules every
// widget shares (lib/styles), the two linked views and the removal trees.

import { baseCss } from "./lib/styles";

export const SAG_CSS = `${baseCss(".xw-sag", ".xw-select")}
.xw-sag [hidden] { display: none !important; }
.xw-sag .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-sag .xw-views { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.xw-sag .xw-view { margin: 0; display: flex; flex-direction: column; gap: 4px; }
.xw-sag .xw-canvas { display: block; background: var(--xw-bg-alt); border-radius: 3px; }
.xw-sag .xw-panel { display: flex; flex-direction: column; gap: 4px; min-width: 150px; }
.xw-sag .xw-control-row { display: flex; justify-content: space-between; align-items: baseline; }
.xw-sag .xw-select {
  font: inherit; font-size: 12px; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); padding: 2px 4px; margin-bottom: 6px;
}
.xw-sag .xw-legend { display: flex; flex-direction: column; gap: 4px; font-size: 12px; }
.xw-sag .xw-legend-item { display: flex; align-items: center; gap: 8px; }
.xw-sag .xw-swatch { display: inline-block; width: 28px; border-radius: 2px; }
.xw-sag .xw-caption { margin: 8px 0; font-variant-numeric: tabular-nums; min-height: 1.4em; }
.xw-sag .xw-forest { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; max-width: 100%; overflow-x: auto; }
.xw-sag .xw-tree { position: relative; flex: none; }
.xw-sag .xw-tree svg { position: absolute; left: 0; top: 0; }
.xw-sag .xw-node {
  position: absolute; display: flex; flex-direction: column; align-items: center; gap: 1px;
  padding: 0; margin: 0; border: 2px solid transparent; border-radius: 5px; background: var(--xw-bg);
  color: inherit; font: inherit; font-size: 11px; cursor: pointer; font-variant-numeric: tabular-nums;
  transform: translate(-2px, -2px);
}
.xw-sag .xw-node.xw-root-node { border-color: var(--xw-border); }
.xw-sag .xw-node:hover { border-color: var(--xw-muted); }
.xw-sag .xw-node[aria-selected="true"] { border-color: var(--xw-accent); box-shadow: 0 0 0 2px var(--xw-accent-soft); }
.xw-sag .xw-node:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 2px; }
.xw-sag .xw-thumb { display: block; border-radius: 3px; }
.xw-sag .xw-prob { line-height: 16px; }
.xw-sag .xw-empty { color: var(--xw-muted); font-style: italic; }
`;
