// Styles of the explanation gallery, scoped under .xw-gallery: the rules every widget shares
// (lib/styles), the filter bar, the grid of thumbnails and the explorer's slot under it.
// Right and wrong carry a mark and a word, not only a colour.

import { baseCss, segmentCss } from "./lib/styles";

export const EXPLANATION_GALLERY_CSS = `${baseCss(".xw-gallery", ".xw-select")}
.xw-gallery { --xw-good: #1a7f37; --xw-bad: #b35900; display: block; }
.xw-gallery [hidden] { display: none !important; }
.xw-gallery .xw-subtitle { color: var(--xw-muted); font-size: 12px; margin-top: 2px; }
.xw-gallery .xw-filters { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 0 0 10px; }
.xw-gallery .xw-filter { display: flex; align-items: center; gap: 6px; }
.xw-gallery .xw-select {
  font: inherit; font-size: 12px; padding: 3px 6px; border: 1px solid var(--xw-border);
  border-radius: var(--xw-radius); background: var(--xw-bg); color: inherit; max-width: 240px;
}
.xw-gallery .xw-segments { display: flex; border: 1px solid var(--xw-border); border-radius: var(--xw-radius); overflow: hidden; }
${segmentCss(".xw-gallery", ".xw-segment")}
.xw-gallery .xw-segment { padding: 3px 9px; background: var(--xw-bg); }
.xw-gallery .xw-count { color: var(--xw-muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.xw-gallery .xw-grid {
  display: grid; gap: 8px; max-height: 460px; overflow-y: auto; padding: 2px;
  grid-template-columns: repeat(auto-fill, minmax(var(--xw-thumb, 112px), 1fr));
}
.xw-gallery .xw-thumb {
  display: flex; flex-direction: column; gap: 3px; align-items: stretch; text-align: left;
  padding: 5px; border: 1px solid var(--xw-border); border-radius: var(--xw-radius);
  background: var(--xw-bg); color: inherit; font: inherit; cursor: pointer; min-width: 0;
}
.xw-gallery .xw-thumb:hover { background: var(--xw-bg-alt); }
.xw-gallery .xw-thumb:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-gallery .xw-thumb[aria-pressed="true"] { border-color: var(--xw-accent); box-shadow: 0 0 0 2px var(--xw-accent); }
.xw-gallery .xw-thumb-img { display: block; width: 100%; height: auto; image-rendering: auto; background: var(--xw-bg-alt); border-radius: 3px; }
.xw-gallery .xw-thumb-title { font-size: 11px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.xw-gallery .xw-thumb-line { font-size: 11px; line-height: 1.3; color: var(--xw-muted); overflow-wrap: anywhere; }
.xw-gallery .xw-mark { font-weight: 700; }
.xw-gallery .xw-thumb[data-correct="correct"] .xw-mark { color: var(--xw-good); }
.xw-gallery .xw-thumb[data-correct="wrong"] .xw-mark { color: var(--xw-bad); }
.xw-gallery .xw-empty { color: var(--xw-muted); font-size: 12px; padding: 10px 0; }
.xw-gallery .xw-opened { margin-top: 12px; }
.xw-gallery .xw-opened-bar { display: flex; align-items: center; gap: 10px; margin: 0 0 6px; }
.xw-gallery .xw-opened-title { font-weight: 600; overflow-wrap: anywhere; }
.xw-gallery .xw-button {
  font: inherit; font-size: 12px; padding: 2px 9px; border: 1px solid var(--xw-border);
  border-radius: var(--xw-radius); background: var(--xw-bg); color: inherit; cursor: pointer;
}
.xw-gallery .xw-button:focus-visible { outline: 2px solid var(--xw-accent); outline-offset: 1px; }
.xw-gallery .xw-loading { color: var(--xw-muted); font-size: 12px; }
`;
