// Styles of the benchmark leaderboard, scoped under .xw-leaderboard: the rules every widget
// shares (lib/styles) and the table's and map pane's own.

import { baseCss } from "./lib/styles";

export const LEADERBOARD_CSS = `${baseCss(".xw-leaderboard", ".xw-select")}
.xw-leaderboard [hidden] { display: none !important; }
.xw-leaderboard .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.xw-leaderboard .xw-body { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.xw-leaderboard .xw-board { min-width: 0; max-width: 100%; }
.xw-leaderboard .xw-scroll { overflow-x: auto; max-width: 100%; }
.xw-leaderboard .xw-table { border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; }
.xw-leaderboard .xw-table th, .xw-leaderboard .xw-table td {
  padding: 0; border-bottom: 1px solid var(--xw-border); text-align: right; vertical-align: middle;
}
.xw-leaderboard .xw-table th { font-weight: 600; font-size: 12px; vertical-align: bottom; }
.xw-leaderboard .xw-table th.xw-method-head, .xw-leaderboard .xw-table td.xw-method-cell {
  text-align: left; padding: 5px 12px 5px 4px; position: sticky; left: 0; background: var(--xw-bg); z-index: 1;
}
.xw-leaderboard .xw-method-name { font-weight: 600; overflow-wrap: anywhere; }
.xw-leaderboard .xw-method-detail { color: var(--xw-muted); font-size: 11px; font-weight: 400; }
.xw-leaderboard .xw-sort {
  display: inline-flex; align-items: center; gap: 4px; width: 100%; justify-content: flex-end;
  padding: 5px 8px; border: 0; border-radius: var(--xw-radius); background: transparent; color: inherit;
  font: inherit; font-weight: 600; cursor: pointer; white-space: nowrap;
}
.xw-leaderboard .xw-sort:hover { background: var(--xw-bg-alt); }
.xw-leaderboard .xw-sort:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
.xw-leaderboard th[aria-sort="ascending"] .xw-sort, .xw-leaderboard th[aria-sort="descending"] .xw-sort { color: var(--xw-accent); }
.xw-leaderboard .xw-arrow { color: var(--xw-muted); font-weight: 400; }
.xw-leaderboard .xw-sort-mark { width: 1em; text-align: center; }
.xw-leaderboard .xw-cell {
  display: flex; flex-direction: column; align-items: flex-end; gap: 1px; width: 100%; min-width: 86px;
  padding: 5px 8px; border: 1px solid transparent; border-radius: var(--xw-radius); background: transparent;
  color: inherit; font: inherit; cursor: pointer; text-align: right;
}
.xw-leaderboard .xw-cell:hover { background: var(--xw-bg-alt); }
.xw-leaderboard .xw-cell:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
.xw-leaderboard .xw-cell[data-best="true"] { background: var(--xw-accent-soft); }
.xw-leaderboard .xw-cell[data-best="true"] .xw-mean { font-weight: 700; color: var(--xw-accent); }
.xw-leaderboard .xw-cell[aria-pressed="true"] { border-color: var(--xw-accent); box-shadow: 0 0 0 1px var(--xw-accent); }
.xw-leaderboard .xw-cell[data-missing="true"] .xw-mean { color: var(--xw-muted); }
.xw-leaderboard .xw-cell-sub { color: var(--xw-muted); font-size: 10.5px; }
.xw-leaderboard .xw-plain { padding: 5px 8px; }
.xw-leaderboard .xw-plain[data-best="true"] { font-weight: 700; color: var(--xw-accent); }
.xw-leaderboard .xw-table tbody tr[data-selected="true"] td.xw-method-cell .xw-method-name { color: var(--xw-accent); }
.xw-leaderboard .xw-issues { margin: 10px 0 0; padding-left: 18px; color: var(--xw-muted); font-size: 12px; max-width: 640px; }
.xw-leaderboard .xw-protocol { margin-top: 8px; font-size: 12px; color: var(--xw-muted); max-width: 640px; }
.xw-leaderboard .xw-protocol summary { cursor: pointer; }
.xw-leaderboard .xw-protocol ul { margin: 4px 0 0; padding-left: 18px; }
.xw-leaderboard .xw-protocol code { overflow-wrap: anywhere; }
.xw-leaderboard .xw-detail { display: flex; flex-direction: column; gap: 8px; width: 256px; max-width: 100%; }
.xw-leaderboard .xw-detail-title { font-weight: 600; overflow-wrap: anywhere; }
.xw-leaderboard .xw-detail-title[data-empty="true"] { font-weight: 400; color: var(--xw-muted); }
.xw-leaderboard .xw-canvas { display: block; background: var(--xw-bg-alt); border-radius: 4px; }
.xw-leaderboard .xw-score { font-size: 12px; overflow-wrap: anywhere; }
.xw-leaderboard .xw-score-value { font-weight: 600; }
.xw-leaderboard .xw-control { display: flex; flex-direction: column; gap: 3px; }
.xw-leaderboard .xw-select {
  width: 100%; padding: 3px 6px; font: inherit; font-size: 12px; color: inherit; background: var(--xw-bg);
  border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
}
.xw-leaderboard .xw-colorbar-ramp { height: 8px; border-radius: 2px; border: 1px solid var(--xw-border); }
.xw-leaderboard .xw-ticks { display: flex; justify-content: space-between; font-size: 10px; color: var(--xw-muted); font-variant-numeric: tabular-nums; }
.xw-leaderboard .xw-opacity-row { display: flex; align-items: center; gap: 8px; }
.xw-leaderboard .xw-opacity { flex: 1; }
`;
