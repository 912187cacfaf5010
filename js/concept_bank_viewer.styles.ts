// Styles of the concept bank viewer, scoped under .xw-conceptbank: the rules every widget
// shares (lib/styles), the class tabs and the concept rows with their example patches.

import { baseCss, segmentCss } from "./lib/styles";

export const CONCEPT_BANK_CSS = `${baseCss(".xw-conceptbank", ".xw-select")}
${segmentCss(".xw-conceptbank", ".xw-class")}
.xw-conceptbank [hidden] { display: none !important; }
.xw-conceptbank .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-conceptbank .xw-classes {
  display: inline-flex; flex-wrap: wrap; border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
  overflow: hidden; margin: 0 0 10px;
}
.xw-conceptbank .xw-class { padding: 4px 10px; background: var(--xw-bg); }
.xw-conceptbank .xw-concepts { display: flex; flex-direction: column; gap: 6px; }
.xw-conceptbank .xw-concept {
  display: flex; align-items: center; gap: 10px; padding: 6px 8px; text-align: left;
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius); background: var(--xw-bg);
  color: inherit; font: inherit; cursor: pointer;
}
.xw-conceptbank .xw-concept:hover { background: var(--xw-bg-alt); }
.xw-conceptbank .xw-concept[aria-pressed="true"] { border-color: var(--xw-accent); background: var(--xw-accent-soft); }
.xw-conceptbank .xw-concept:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-conceptbank .xw-concept-info { min-width: 150px; display: flex; flex-direction: column; gap: 1px; }
.xw-conceptbank .xw-concept-id { font-weight: 600; overflow-wrap: anywhere; }
.xw-conceptbank .xw-concept-stats { color: var(--xw-muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.xw-conceptbank .xw-examples { display: flex; gap: 4px; flex-wrap: wrap; }
.xw-conceptbank .xw-example {
  width: 56px; height: 56px; image-rendering: pixelated; border-radius: 3px; border: 1px solid var(--xw-border);
}
.xw-conceptbank .xw-empty { color: var(--xw-muted); font-style: italic; }
`;
