// Styles of the dataset explorer, scoped under .xw-dataset: the rules every widget shares
// (lib/styles), the tool and filter bars, the thumbnail grid, the table, the pager and the
// opened viewer's slot. Right, wrong and failed carry a mark and a word, not only a colour;
// the colours are Okabe and Ito's colour-blind-safe blue, vermillion and reddish purple.

import { baseCss, filterBarCss, thumbGridCss } from "./lib/styles";

export const DATASET_EXPLORER_CSS = `${baseCss(".xw-dataset", ".xw-select")}
.xw-dataset { --xw-good: #0072b2; --xw-bad: #d55e00; --xw-failed: #cc79a7; display: block; }
.xw-dataset [hidden] { display: none !important; }
.xw-dataset .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-dataset .xw-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 0 0 8px; }
.xw-dataset .xw-filter { display: flex; align-items: center; gap: 6px; }
.xw-dataset .xw-select, .xw-dataset .xw-number {
  font: inherit; font-size: 12px; padding: 3px 6px; border: 1px solid var(--xw-border);
  border-radius: var(--xw-radius); background: var(--xw-bg); color: inherit; max-width: 220px;
}
.xw-dataset .xw-number { width: 72px; font-variant-numeric: tabular-nums; }
.xw-dataset .xw-number:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
${filterBarCss(".xw-dataset", true)}
.xw-dataset .xw-pager { display: flex; align-items: center; gap: 8px; margin: 0 0 8px; font-size: 12px; }
.xw-dataset .xw-page { font-variant-numeric: tabular-nums; color: var(--xw-muted); }
${thumbGridCss(".xw-dataset", { maxHeight: "480px", thumb: "96px", gap: "2px", padding: "4px" })}
.xw-dataset .xw-thumb-img, .xw-dataset .xw-thumb-missing {
  display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: contain; background: var(--xw-bg-alt); border-radius: 3px;
  image-rendering: pixelated;
}
.xw-dataset .xw-thumb-missing { display: flex; align-items: center; justify-content: center; color: var(--xw-muted); font-size: 11px; }
.xw-dataset .xw-line { font-size: 11px; line-height: 1.3; color: var(--xw-muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.xw-dataset .xw-line.xw-id { color: var(--xw-fg); font-weight: 600; }
.xw-dataset .xw-mark { font-weight: 700; }
.xw-dataset [data-correct="correct"] .xw-mark { color: var(--xw-good); }
.xw-dataset [data-correct="wrong"] .xw-mark { color: var(--xw-bad); }
.xw-dataset .xw-failed { color: var(--xw-failed); font-weight: 700; }
.xw-dataset .xw-table-box { max-height: 480px; overflow: auto; border: 1px solid var(--xw-border); border-radius: var(--xw-radius); }
.xw-dataset table { border-collapse: collapse; width: 100%; font-size: 12px; }
.xw-dataset th { position: sticky; top: 0; background: var(--xw-bg-alt); text-align: left; padding: 0; font-weight: 600; }
.xw-dataset th button {
  font: inherit; border: 0; background: none; color: inherit; padding: 4px 8px; width: 100%; text-align: left; cursor: pointer; white-space: nowrap;
}
.xw-dataset th button:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
.xw-dataset td { padding: 3px 8px; border-top: 1px solid var(--xw-border); white-space: nowrap; max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
.xw-dataset td.xw-num { text-align: right; font-variant-numeric: tabular-nums; }
.xw-dataset tbody tr { cursor: pointer; }
.xw-dataset tbody tr:hover { background: var(--xw-bg-alt); }
.xw-dataset tbody tr:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: -2px; }
.xw-dataset tbody tr[aria-selected="true"] { background: var(--xw-accent-soft); }
.xw-dataset .xw-empty { color: var(--xw-muted); font-size: 12px; padding: 10px 0; }
.xw-dataset .xw-opened { margin-top: 12px; border-top: 1px solid var(--xw-border); padding-top: 10px; }
.xw-dataset .xw-opened-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin: 0 0 6px; }
.xw-dataset .xw-opened-title { font-weight: 600; overflow-wrap: anywhere; }
.xw-dataset .xw-loading { color: var(--xw-muted); font-size: 12px; }
.xw-dataset .xw-open-error { padding: 6px 8px; border-radius: var(--xw-radius); background: #fdecea; color: #8a1c12; font-size: 12px; }
`;
