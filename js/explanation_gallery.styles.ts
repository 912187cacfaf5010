// Styles of the explanation gallery, scoped under .xw-gallery: the rules every widget shares
// (lib/styles), the filter bar, the grid of thumbnails and the explorer's slot under it.
// Right and wrong carry a mark and a word, not only a colour.

import { baseCss, filterBarCss, thumbGridCss } from "./lib/styles";

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
${filterBarCss(".xw-gallery", false)}
${thumbGridCss(".xw-gallery", { maxHeight: "460px", thumb: "112px", gap: "3px", padding: "5px" })}
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
.xw-gallery .xw-loading { color: var(--xw-muted); font-size: 12px; }
`;
