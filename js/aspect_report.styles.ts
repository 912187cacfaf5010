// Styles of the aspect report, scoped under .xw-aspects: the rules every widget shares
// (lib/styles), the class x aspect matrix, and the thumbnails of a cell and of the outliers.

import { baseCss } from "./lib/styles";

export const ASPECT_REPORT_CSS = `${baseCss(".xw-aspects", ".xw-select")}
.xw-aspects [hidden] { display: none !important; }
.xw-aspects .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-aspects .xw-matrix-wrap { overflow-x: auto; max-width: 100%; }
.xw-aspects .xw-matrix { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.xw-aspects .xw-matrix th { font-weight: 600; font-size: 12px; padding: 3px 6px; white-space: nowrap; }
.xw-aspects .xw-matrix th.xw-class { text-align: right; }
.xw-aspects .xw-matrix th.xw-aspect { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; }
.xw-aspects .xw-corner { color: var(--xw-muted); font-weight: 400; }
.xw-aspects .xw-matrix td { padding: 1px; }
.xw-aspects .xw-cell {
  width: 46px; height: 36px; border: 1px solid var(--xw-border); border-radius: 4px; cursor: pointer;
  color: inherit; font: inherit; display: flex; flex-direction: column; align-items: center; justify-content: center;
  line-height: 1.1;
}
.xw-aspects .xw-cell:disabled { cursor: default; opacity: .45; }
.xw-aspects .xw-cell[aria-pressed="true"] { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-aspects .xw-cell:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-aspects .xw-count { font-weight: 600; }
.xw-aspects .xw-present { font-size: 10px; color: var(--xw-muted); }
.xw-aspects .xw-detail, .xw-aspects .xw-outliers { margin-top: 10px; }
.xw-aspects .xw-detail-text { font-size: 12px; color: var(--xw-muted); }
.xw-aspects .xw-hint, .xw-aspects .xw-empty { color: var(--xw-muted); font-style: italic; }
.xw-aspects .xw-thumbs { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.xw-aspects .xw-thumb { margin: 0; width: 96px; }
.xw-aspects .xw-thumb-canvas { width: 96px; height: 96px; image-rendering: pixelated; border-radius: 3px;
  border: 1px solid var(--xw-border); }
.xw-aspects .xw-caption { font-size: 11px; color: var(--xw-muted); overflow-wrap: anywhere; }
`;
