// DatasetExplorer: the results of a dataset run (xw.explain_dataset's store) as a thumbnail
// grid or a table, filtered by class (true and/or predicted), correctness, status,
// confidence and metric ranges, sorted by any column and paged, all in the browser; a click
// opens the image in the saliency viewer (or the linked concept explorer, VRX, Ge et al.,
// CVPR 2021) drawn inside this widget.
//
// The metadata arrives once as binary columns (`columns`: int32 / float32 / int8 bytes);
// thumbnails are PNG bytes: preloaded (`thumbnails`) or asked for one page at a time with
// a custom message {type: "thumbnails", version, rows} that the kernel answers with the
// PNGs in one buffer. Only the page shown is in the DOM, so 10,000 rows stay responsive.
// The opened viewer is this bundle's copy of js/saliency_viewer.ts or js/concept_explorer.ts
// rendered on a child model holding `opened.state`; its opacity and colour map are this
// widget's traits (as in js/explanation_gallery.ts).
//
// Traits: see xwidgets/widgets/dataset_explorer.py. Text from data goes in with
// textContent only.

import conceptExplorer from "./concept_explorer";
import { DATASET_EXPLORER_CSS } from "./dataset_explorer.styles";
import { asBytes, decodeFloat32, type BinaryLike } from "./lib/buffers";
import { ChildView } from "./lib/child_view";
import { bindRadioGroup, checkRadio } from "./lib/controls";
import { box, h, listen, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatProbability, formatValue } from "./lib/format";
import { subscribe, type RenderProps, type WidgetModel, type WidgetModule } from "./lib/model";
import { navigate } from "./lib/selection";
import saliencyViewer from "./saliency_viewer";

// ------------------------------------------------------------------ pure logic (tested in vitest)

export const CORRECTNESS = ["all", "correct", "wrong"] as const;
export type Correctness = (typeof CORRECTNESS)[number];
export const STATUSES = ["all", "ok", "failed"] as const;
export type Status = (typeof STATUSES)[number];
export const SORT_ORDERS = ["asc", "desc"] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];
export const MODES = ["grid", "table"] as const;
export type Mode = (typeof MODES)[number];
export const VIEWS = ["saliency", "concepts"] as const;
/** Sortable columns besides the metrics (Python's BASE_COLUMNS). */
export const BASE_COLUMNS = ["image_id", "label", "pred", "confidence", "correct", "error"] as const;
export const COLUMN_TITLES: Readonly<Record<string, string>> = {
  image_id: "Image",
  label: "True class",
  pred: "Predicted",
  confidence: "Confidence",
  correct: "Correct",
  error: "Error",
};
/** Traits that the opened viewer shares with the explorer (set on either side, mirrored). */
export const SHARED = ["opacity", "colormap"] as const;

export type ImageId = number | string;

export interface Columns {
  n: number;
  ids: ImageId[];
  label: Int32Array;
  pred: Int32Array;
  confidence: Float32Array;
  correct: Int8Array;
  error: Int32Array;
  metrics: Array<{ name: string; values: Float32Array }>;
}

export const EMPTY_COLUMNS: Columns = {
  n: 0,
  ids: [],
  label: new Int32Array(0),
  pred: new Int32Array(0),
  confidence: new Float32Array(0),
  correct: new Int8Array(0),
  error: new Int32Array(0),
  metrics: [],
};

function checkLength(name: string, bytes: Uint8Array, n: number, size: number): void {
  if (bytes.byteLength !== n * size) {
    throw new RangeError(`${name}: expected ${n * size} bytes for ${n} rows; got ${bytes.byteLength}`);
  }
}

/** Little-endian int32 bytes -> Int32Array (any alignment). */
export function decodeInt32(value: BinaryLike, n: number, name: string): Int32Array {
  const bytes = asBytes(value);
  checkLength(name, bytes, n, 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

/** Little-endian uint32 bytes -> Uint32Array (any alignment). */
export function decodeUint32(value: BinaryLike, name: string): Uint32Array {
  const bytes = asBytes(value);
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`${name}: expected a multiple of 4 bytes; got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

function float32Column(value: unknown, n: number, name: string): Float32Array {
  const bytes = asBytes(value as BinaryLike);
  checkLength(name, bytes, n, 4);
  return decodeFloat32(bytes);
}

/** The `columns` trait; throws a RangeError/TypeError naming the column that is malformed. */
export function readColumns(value: unknown): Columns {
  if (value === null || typeof value !== "object" || Object.keys(value).length === 0) return EMPTY_COLUMNS;
  const v = value as Record<string, unknown>;
  const n = Number(v.n);
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`columns.n: expected a row count; got ${String(v.n)}`);
  const idsValue = v.ids as { kind?: string; data?: BinaryLike; values?: unknown } | undefined;
  let ids: ImageId[];
  if (idsValue?.kind === "int32" && idsValue.data !== undefined) {
    ids = Array.from(decodeInt32(idsValue.data, n, "columns.ids"));
  } else if (idsValue?.kind === "json" && Array.isArray(idsValue.values) && idsValue.values.length === n) {
    ids = idsValue.values.map((x, i) => {
      if (typeof x === "number" || typeof x === "string") return x;
      throw new TypeError(`columns.ids[${i}]: expected a number or a string`);
    });
  } else {
    throw new TypeError(`columns.ids: expected {kind: "int32", data} or {kind: "json", values} of ${n} ids`);
  }
  const correctBytes = asBytes(v.correct as BinaryLike);
  checkLength("columns.correct", correctBytes, n, 1);
  const metrics = (Array.isArray(v.metrics) ? v.metrics : []).map((m: { name?: unknown; data?: unknown } | null, i) => {
    if (typeof m?.name !== "string") throw new TypeError(`columns.metrics[${i}]: expected {name, data}`);
    return { name: m.name, values: float32Column(m.data, n, `columns.metrics[${i}] (${m.name})`) };
  });
  return {
    n,
    ids,
    label: decodeInt32(v.label as BinaryLike, n, "columns.label"),
    pred: decodeInt32(v.pred as BinaryLike, n, "columns.pred"),
    confidence: float32Column(v.confidence, n, "columns.confidence"),
    correct: new Int8Array(correctBytes.buffer, correctBytes.byteOffset, n),
    error: decodeInt32(v.error as BinaryLike, n, "columns.error"),
    metrics,
  };
}

/**
 * PNGs cut out of one buffer: row `rows[k]` gets `data[offsets[k], offsets[k + 1])` (views,
 * no copy); an empty slice (no thumbnail stored) is left out. Throws when the offsets do not
 * fit the data.
 */
export function splitThumbnails(rows: ArrayLike<number>, offsets: ArrayLike<number>, data: BinaryLike): Map<number, Uint8Array> {
  const bytes = asBytes(data);
  if (offsets.length !== rows.length + 1) {
    throw new RangeError(`thumbnails: expected ${rows.length + 1} offsets for ${rows.length} rows; got ${offsets.length}`);
  }
  const out = new Map<number, Uint8Array>();
  for (let k = 0; k < rows.length; k++) {
    const start = offsets[k];
    const end = offsets[k + 1];
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= bytes.byteLength)) {
      throw new RangeError(`thumbnails: offsets ${start}..${end} of row ${rows[k]} do not fit ${bytes.byteLength} bytes`);
    }
    if (end > start) out.set(rows[k], bytes.subarray(start, end));
  }
  return out;
}

/** The `thumbnails` trait: its version and PNGs by row, or null when it is empty. */
export function readThumbnailTrait(value: unknown): { version: string; pngs: Map<number, Uint8Array> } | null {
  if (value === null || typeof value !== "object" || Object.keys(value).length === 0) return null;
  const v = value as { version?: unknown; rows?: BinaryLike; offsets?: BinaryLike; data?: BinaryLike };
  if (v.rows === undefined || v.offsets === undefined || v.data === undefined) {
    throw new TypeError("thumbnails: expected {version, rows, offsets, data}");
  }
  const rowBytes = asBytes(v.rows);
  const rows = decodeInt32(rowBytes, rowBytes.byteLength / 4, "thumbnails.rows");
  return { version: String(v.version ?? ""), pngs: splitThumbnails(rows, decodeUint32(v.offsets, "thumbnails.offsets"), v.data) };
}

/** The kernel's answer to a thumbnail request ({type, version, rows, offsets} + one buffer). */
export function readThumbnailMessage(content: unknown, buffers: unknown): { version: string; pngs: Map<number, Uint8Array> } | null {
  const c = content as { type?: unknown; version?: unknown; rows?: unknown; offsets?: unknown } | null;
  if (c === null || typeof c !== "object" || c.type !== "thumbnails") return null;
  if (!Array.isArray(c.rows) || !Array.isArray(c.offsets)) throw new TypeError("thumbnails message: expected rows and offsets");
  const list = Array.isArray(buffers) ? buffers : [];
  const data = (list[0] ?? new Uint8Array(0)) as BinaryLike;
  return { version: String(c.version ?? ""), pngs: splitThumbnails(c.rows.map(Number), c.offsets.map(Number), data) };
}

export interface Filters {
  /** class indices, -1 any */
  trueClass: number;
  predictedClass: number;
  correctness: Correctness;
  status: Status;
  /** [lo, hi] in [0, 1]; [0, 1] is no filter */
  confidence: [number, number];
  /** metric name -> [lo | null, hi | null] */
  metrics: Map<string, [number | null, number | null]>;
}

export const NO_FILTERS: Filters = {
  trueClass: -1,
  predictedClass: -1,
  correctness: "all",
  status: "all",
  confidence: [0, 1],
  metrics: new Map(),
};

function choice<T extends string>(value: unknown, choices: readonly T[], fallback: T): T {
  return typeof value === "string" && (choices as readonly string[]).includes(value) ? (value as T) : fallback;
}

function classIndex(value: unknown, count: number): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < count ? value : -1;
}

function bound(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The filters from the traits; anything out of range falls back to "no filter". */
export function readFilters(model: Pick<WidgetModel, "get">, columns: Columns, classCount: number): Filters {
  const conf = model.get("confidence_range");
  let confidence: [number, number] = [0, 1];
  if (Array.isArray(conf) && conf.length === 2) {
    const lo = bound(conf[0]);
    const hi = bound(conf[1]);
    if (lo !== null && hi !== null && 0 <= lo && lo <= hi && hi <= 1) confidence = [lo, hi];
  }
  const metrics = new Map<string, [number | null, number | null]>();
  const ranges = model.get("metric_ranges");
  const names = new Set(columns.metrics.map((m) => m.name));
  if (ranges !== null && typeof ranges === "object") {
    for (const [name, pair] of Object.entries(ranges as Record<string, unknown>)) {
      if (!names.has(name) || !Array.isArray(pair) || pair.length !== 2) continue;
      const lo = bound(pair[0]);
      const hi = bound(pair[1]);
      if (lo === null && hi === null) continue;
      if (lo !== null && hi !== null && lo > hi) continue;
      metrics.set(name, [lo, hi]);
    }
  }
  return {
    trueClass: classIndex(model.get("true_class"), classCount),
    predictedClass: classIndex(model.get("predicted_class"), classCount),
    correctness: choice(model.get("correctness"), CORRECTNESS, "all"),
    status: choice(model.get("status"), STATUSES, "all"),
    confidence,
    metrics,
  };
}

/** Whether row `i` passes `f` (Python's `matching_rows` does the same). The columns are
 *  float32, so each bound is rounded to float32 first: a value shown as 0.2 passes "<= 0.2". */
export function rowMatches(c: Columns, i: number, f: Filters, metricIndex?: Map<string, Float32Array>): boolean {
  if (f.trueClass >= 0 && c.label[i] !== f.trueClass) return false;
  if (f.predictedClass >= 0 && c.pred[i] !== f.predictedClass) return false;
  if (f.correctness === "correct" && c.correct[i] !== 1) return false;
  if (f.correctness === "wrong" && c.correct[i] !== 0) return false;
  if (f.status === "ok" && c.error[i] >= 0) return false;
  if (f.status === "failed" && c.error[i] < 0) return false;
  if (f.confidence[0] > 0 || f.confidence[1] < 1) {
    const v = c.confidence[i];
    if (!(Number.isFinite(v) && v >= Math.fround(f.confidence[0]) && v <= Math.fround(f.confidence[1]))) return false;
  }
  for (const [name, [lo, hi]] of f.metrics) {
    const values = metricIndex?.get(name) ?? c.metrics.find((m) => m.name === name)?.values;
    if (values === undefined) continue;
    const v = values[i];
    if (!Number.isFinite(v)) return false;
    if (lo !== null && v < Math.fround(lo)) return false;
    if (hi !== null && v > Math.fround(hi)) return false;
  }
  return true;
}

/** Positions of the rows that pass `f`, in row order. */
export function filterRows(c: Columns, f: Filters): number[] {
  const index = new Map(c.metrics.map((m) => [m.name, m.values]));
  const out: number[] = [];
  for (let i = 0; i < c.n; i++) if (rowMatches(c, i, f, index)) out.push(i);
  return out;
}

/** The value row `i` sorts by (null: missing, sorted last). */
export function sortValue(c: Columns, i: number, by: string, errorTexts: readonly string[]): number | string | null {
  switch (by) {
    case "image_id":
      return c.ids[i];
    case "label":
    case "pred": {
      const v = (by === "label" ? c.label : c.pred)[i];
      return v < 0 ? null : v;
    }
    case "correct":
      return c.correct[i] < 0 ? null : c.correct[i];
    case "error":
      return c.error[i] < 0 ? null : (errorTexts[c.error[i]] ?? "");
    default: {
      const values = by === "confidence" ? c.confidence : c.metrics.find((m) => m.name === by)?.values;
      if (values === undefined) return null;
      const v = values[i];
      return Number.isNaN(v) ? null : v;
    }
  }
}

function compare(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1; // numbers before strings (ids)
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `rows` sorted by column `by` (Python's `sorted_rows`): stable (ties keep their order in `rows`),
 *  missing values last in either order. */
export function sortRows(c: Columns, rows: readonly number[], by: string, order: SortOrder, errorTexts: readonly string[] = []): number[] {
  const keyed = rows.map((i, k) => ({ i, k, v: sortValue(c, i, by, errorTexts) }));
  const sign = order === "desc" ? -1 : 1;
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === b.v ? a.k - b.k : a.v === null ? 1 : -1;
    return sign * compare(a.v, b.v) || a.k - b.k;
  });
  return keyed.map((k) => k.i);
}

/** The page `page` (clamped) of `count` rows, `size` per page. */
export function pageSlice(count: number, page: unknown, size: unknown): { page: number; pages: number; start: number; end: number; size: number } {
  const per = typeof size === "number" && Number.isInteger(size) && size > 0 ? size : 48;
  const pages = Math.max(1, Math.ceil(count / per));
  const p = typeof page === "number" && Number.isFinite(page) ? Math.max(0, Math.min(pages - 1, Math.trunc(page))) : 0;
  return { page: p, pages, start: p * per, end: Math.min(count, (p + 1) * per), size: per };
}

/** How many rows each class of `role` would show with the other filters as they are:
 *  class index -> count, and -1 -> the count for "any". Classes with no row are left out. */
export function classCounts(c: Columns, f: Filters, role: "true" | "predicted"): Map<number, number> {
  const rows = filterRows(c, role === "true" ? { ...f, trueClass: -1 } : { ...f, predictedClass: -1 });
  const column = role === "true" ? c.label : c.pred;
  const counts = new Map<number, number>([[-1, rows.length]]);
  for (const i of rows) {
    const k = column[i];
    if (k >= 0) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** Classes that occur in `column` (so the class selects list only those). */
export function presentClasses(column: Int32Array): number[] {
  return [...new Set(Array.from(column).filter((k) => k >= 0))].sort((a, b) => a - b);
}

/** Totals for the subtitle. */
export function tally(c: Columns): { correct: number; wrong: number; unknown: number; failed: number } {
  const t = { correct: 0, wrong: 0, unknown: 0, failed: 0 };
  for (let i = 0; i < c.n; i++) {
    if (c.correct[i] === 1) t.correct += 1;
    else if (c.correct[i] === 0) t.wrong += 1;
    else t.unknown += 1;
    if (c.error[i] >= 0) t.failed += 1;
  }
  return t;
}

export function correctnessOf(c: Columns, i: number): "correct" | "wrong" | "unknown" {
  return c.correct[i] === 1 ? "correct" : c.correct[i] === 0 ? "wrong" : "unknown";
}

/** Ids are numbers or strings; 3 and "3" are different images. */
export function sameId(a: unknown, b: unknown): boolean {
  return (typeof a === "number" || typeof a === "string") && a === b;
}

/** The row of image `id`, or -1. */
export function rowOf(c: Columns, id: unknown): number {
  if (typeof id !== "number" && typeof id !== "string") return -1;
  return c.ids.indexOf(id);
}

export interface Opened {
  state: Record<string, unknown> | null;
  error: string | null;
  title: string;
  note: string;
}

/** What the kernel sent for the image `selected` in `version` and `view`; null while it has
 *  not arrived (an `opened` of another image, version or view is stale). */
export function openedFor(opened: unknown, selected: unknown, version: unknown, view: unknown): Opened | null {
  const o = opened as Record<string, unknown> | null;
  if (o === null || typeof o !== "object" || !sameId(o.image_id, selected) || o.version !== version || o.view !== view) return null;
  if (typeof o.error === "string") return { state: null, error: o.error, title: "", note: "" };
  const state = o.state as Record<string, unknown> | null;
  if (state === null || typeof state !== "object") return null;
  return { state, error: null, title: String(o.title ?? ""), note: String(o.note ?? "") };
}

/** Rows of `page` that have no thumbnail yet and were not asked for. */
export function missingThumbnails(page: readonly number[], have: { has(row: number): boolean }, pending: { has(row: number): boolean }): number[] {
  return page.filter((r) => !have.has(r) && !pending.has(r));
}

/** A metric range input's text -> bound (null: open); undefined when it is not a number. */
export function parseBound(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

// ------------------------------------------------------------------ the widget

const MODULES: Readonly<Record<string, WidgetModule>> = { saliency: saliencyViewer, concepts: conceptExplorer };

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  const { root, header, title, error, setError } = widgetFrame("dataset", DATASET_EXPLORER_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-dx-summary" });
  header.append(subtitle);
  const uid = uniqueId("xw-dx");
  const group = (...children: HTMLElement[]): HTMLElement => box("xw-filter", ...children);

  // tool bar: version, grid / table, sort
  const tools = h("div", "xw-bar", { "data-testid": "xw-dx-tools" });
  const versionSelect = h("select", "xw-select", { id: `${uid}-version`, "data-testid": "xw-dx-version" });
  const versionBox = group(h("label", "xw-heading", { for: `${uid}-version` }, "Method"), versionSelect);
  const modeGroup = h("div", "xw-segments", { role: "radiogroup", "aria-label": "Show as", "data-testid": "xw-dx-mode" });
  const modeButtons = MODES.map((m, i) =>
    h("button", "xw-segment", { type: "button", role: "radio", "data-testid": `xw-dx-mode-${m}`, "data-position": i },
      m === "grid" ? "Grid" : "Table"));
  modeGroup.append(...modeButtons);
  const sortSelect = h("select", "xw-select", { id: `${uid}-sort`, "data-testid": "xw-dx-sort" });
  const orderButton = h("button", "xw-button", { type: "button", "data-testid": "xw-dx-order" });
  tools.append(versionBox, group(h("span", "xw-heading", {}, "Show as"), modeGroup),
    group(h("label", "xw-heading", { for: `${uid}-sort` }, "Sort by"), sortSelect, orderButton));

  // filter bar
  const filters = h("div", "xw-bar", { "data-testid": "xw-dx-filters" });
  const trueSelect = h("select", "xw-select", { id: `${uid}-true`, "data-testid": "xw-dx-true" });
  const predSelect = h("select", "xw-select", { id: `${uid}-pred`, "data-testid": "xw-dx-pred" });
  const correctGroup = h("div", "xw-segments", { role: "radiogroup", "aria-label": "Correctness", "data-testid": "xw-dx-correctness" });
  const correctButtons = CORRECTNESS.map((c, i) =>
    h("button", "xw-segment", { type: "button", role: "radio", "data-testid": `xw-dx-correct-${c}`, "data-position": i },
      c === "all" ? "All" : c === "correct" ? "\u2713 Right" : "\u2717 Wrong"));
  correctGroup.append(...correctButtons);
  const statusSelect = h("select", "xw-select", { id: `${uid}-status`, "data-testid": "xw-dx-status" });
  statusSelect.append(h("option", null, { value: "all" }, "All rows"), h("option", null, { value: "ok" }, "With a map"),
    h("option", null, { value: "failed" }, "Failed"));
  const number = (testid: string, label: string, extra: Record<string, string> = {}): HTMLInputElement =>
    h("input", "xw-number", { type: "number", step: "any", "data-testid": testid, "aria-label": label, ...extra });
  const confMin = number("xw-dx-conf-min", "Lowest confidence (0 to 1)", { min: "0", max: "1", step: "0.01", placeholder: "0" });
  const confMax = number("xw-dx-conf-max", "Highest confidence (0 to 1)", { min: "0", max: "1", step: "0.01", placeholder: "1" });
  const metricBox = h("div", "xw-bar", { "data-testid": "xw-dx-metrics" });
  const reset = h("button", "xw-button", { type: "button", "data-testid": "xw-dx-reset" }, "Reset filters");
  const count = h("span", "xw-count", { "data-testid": "xw-dx-count", "aria-live": "polite" });
  filters.append(
    group(h("label", "xw-heading", { for: `${uid}-true` }, "True"), trueSelect),
    group(h("label", "xw-heading", { for: `${uid}-pred` }, "Predicted"), predSelect),
    group(h("span", "xw-heading", {}, "Show"), correctGroup),
    group(h("label", "xw-heading", { for: `${uid}-status` }, "Status"), statusSelect),
    group(h("span", "xw-heading", {}, "Confidence"), confMin, h("span", null, {}, "\u2013"), confMax),
    metricBox,
    reset,
    count,
  );

  const pager = h("div", "xw-pager", { "data-testid": "xw-dx-pager" });
  const prev = h("button", "xw-button", { type: "button", "data-testid": "xw-dx-prev", "aria-label": "Previous page" }, "\u2039 Prev");
  const pageText = h("span", "xw-page", { "data-testid": "xw-dx-page", "aria-live": "polite" });
  const next = h("button", "xw-button", { type: "button", "data-testid": "xw-dx-next", "aria-label": "Next page" }, "Next \u203a");
  pager.append(prev, pageText, next);

  const grid = h("div", "xw-grid", { role: "group", "data-testid": "xw-dx-grid", "aria-label": "Images: click one to open it" });
  const tableBox = h("div", "xw-table-box", { "data-testid": "xw-dx-table-box" });
  const table = h("table", null, { "data-testid": "xw-dx-table" });
  const thead = h("thead");
  const tbody = h("tbody");
  table.append(thead, tbody);
  tableBox.append(table);
  const empty = h("div", "xw-empty", { "data-testid": "xw-dx-empty", hidden: true }, "No image matches these filters.");

  const openedBox = h("section", "xw-opened", { "data-testid": "xw-dx-opened", "aria-label": "Opened image", hidden: true });
  const openedBar = h("div", "xw-opened-bar");
  const openedTitle = h("span", "xw-opened-title", { "data-testid": "xw-dx-opened-title" });
  const viewGroup = h("div", "xw-segments", { role: "radiogroup", "aria-label": "Open in", "data-testid": "xw-dx-view" });
  const close = h("button", "xw-button", { type: "button", "data-testid": "xw-dx-close" }, "Close");
  openedBar.append(openedTitle, viewGroup, close);
  const loading = h("div", "xw-loading", { "data-testid": "xw-dx-loading", hidden: true }, "Loading the image\u2026");
  const openError = h("div", "xw-open-error", { role: "alert", "data-testid": "xw-dx-open-error", hidden: true });
  const slot = h("div", "xw-viewer-slot", { "data-testid": "xw-dx-viewer" });
  openedBox.append(openedBar, loading, openError, slot);

  root.append(tools, filters, pager, grid, tableBox, empty, openedBox, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let columns: Columns = EMPTY_COLUMNS;
  let names: string[] = [];
  let errorTexts: string[] = [];
  let shown: number[] = []; // filtered and sorted rows
  let pageRows: number[] = [];
  const pngs = new Map<number, Uint8Array>();
  const urls = new Map<number, string>();
  const pending = new Set<number>();
  let version = "";

  const className = (k: number): string => (k < 0 ? "\u2013" : names[k] ?? `class ${k}`);
  const filtersNow = (): Filters => readFilters(model, columns, names.length);
  const idText = (i: number): string => String(columns.ids[i]);

  function clearThumbnails(): void {
    for (const url of urls.values()) URL.revokeObjectURL(url);
    urls.clear();
    pngs.clear();
    pending.clear();
  }

  function urlOf(row: number): string | null {
    const cached = urls.get(row);
    if (cached !== undefined) return cached;
    const png = pngs.get(row);
    if (png === undefined) return null;
    const url = URL.createObjectURL(new Blob([png.slice()], { type: "image/png" }));
    urls.set(row, url);
    return url;
  }

  function save(updates: Record<string, unknown>): void {
    let changed = false;
    for (const [name, value] of Object.entries(updates)) {
      if (Object.is(model.get(name), value)) continue;
      model.set(name, value);
      changed = true;
    }
    if (changed) model.save_changes();
  }

  /** Set filters (and go to the first page). */
  function setFilters(updates: Record<string, unknown>): void {
    save({ ...updates, page: 0 });
  }

  // ---------------------------------------------------------------- controls from the traits
  function buildVersions(): void {
    const list = Array.isArray(model.get("versions")) ? (model.get("versions") as Array<Record<string, unknown>>) : [];
    versionSelect.replaceChildren(...list.map((v) => h("option", null, { value: String(v?.version ?? "") }, String(v?.label ?? v?.version ?? ""))));
    versionSelect.value = String(model.get("version") ?? "");
    versionBox.hidden = list.length <= 1;
  }

  function buildSortOptions(): void {
    const keys = [...BASE_COLUMNS, ...columns.metrics.map((m) => m.name)];
    sortSelect.replaceChildren(...keys.map((k) => h("option", null, { value: k }, COLUMN_TITLES[k] ?? k)));
  }

  function buildMetricInputs(): void {
    metricBox.replaceChildren();
    metricBox.hidden = columns.metrics.length === 0;
    for (const m of columns.metrics) {
      const lo = number("xw-dx-metric-min", `Lowest ${m.name}`, { "data-metric": m.name, placeholder: "min" });
      const hi = number("xw-dx-metric-max", `Highest ${m.name}`, { "data-metric": m.name, placeholder: "max" });
      metricBox.append(group(h("span", "xw-heading", {}, m.name), lo, h("span", null, {}, "\u2013"), hi));
    }
  }

  function classOptions(select: HTMLSelectElement, counts: Map<number, number>, classes: number[], value: number): void {
    select.replaceChildren(h("option", null, { value: "-1" }, `Any (${counts.get(-1) ?? 0})`));
    const sorted = [...classes].sort((a, b) => className(a).localeCompare(className(b)) || a - b);
    for (const k of sorted) select.append(h("option", null, { value: String(k) }, `${className(k)} (${counts.get(k) ?? 0})`));
    select.value = String(value);
    if (select.value !== String(value)) select.value = "-1";
  }

  function syncControls(f: Filters): void {
    classOptions(trueSelect, classCounts(columns, f, "true"), presentClasses(columns.label), f.trueClass);
    classOptions(predSelect, classCounts(columns, f, "predicted"), presentClasses(columns.pred), f.predictedClass);
    checkRadio(correctButtons, CORRECTNESS.indexOf(f.correctness));
    statusSelect.value = f.status;
    const fill = (input: HTMLInputElement, v: number | null, open: number | null): void => {
      if (document.activeElement === input) return;
      input.value = v === null || v === open ? "" : String(v);
    };
    fill(confMin, f.confidence[0], 0);
    fill(confMax, f.confidence[1], 1);
    for (const input of metricBox.querySelectorAll<HTMLInputElement>("input")) {
      const pair = f.metrics.get(input.dataset.metric ?? "");
      fill(input, pair === undefined ? null : input.dataset.testid === "xw-dx-metric-min" ? pair[0] : pair[1], null);
    }
    const by = String(model.get("sort_by") ?? "image_id");
    sortSelect.value = by;
    if (sortSelect.value !== by) sortSelect.value = "image_id";
    const order = model.get("sort_order") === "desc" ? "desc" : "asc";
    orderButton.textContent = order === "asc" ? "\u2191 Ascending" : "\u2193 Descending";
    orderButton.setAttribute("aria-label", `Sort order: ${order === "asc" ? "ascending" : "descending"} (click to reverse)`);
    orderButton.dataset.order = order;
    const mode = model.get("mode") === "table" ? "table" : "grid";
    checkRadio(modeButtons, MODES.indexOf(mode));
  }

  // ---------------------------------------------------------------- rows
  function cellTexts(i: number): string[] {
    const verdict = correctnessOf(columns, i);
    const errorText = columns.error[i] >= 0 ? (errorTexts[columns.error[i]] ?? "error") : "";
    return [
      idText(i),
      className(columns.label[i]),
      className(columns.pred[i]),
      formatProbability(columns.confidence[i]),
      verdict === "correct" ? "\u2713 right" : verdict === "wrong" ? "\u2717 wrong" : "\u2013",
      ...columns.metrics.map((m) => (Number.isFinite(m.values[i]) ? formatValue(m.values[i]) : "\u2013")),
      errorText,
    ];
  }

  function thumbButton(i: number): HTMLButtonElement {
    const verdict = correctnessOf(columns, i);
    const failed = columns.error[i] >= 0;
    const button = h("button", "xw-thumb", {
      type: "button",
      "data-testid": "xw-dx-thumb",
      "data-row": i,
      "data-id": idText(i),
      "data-correct": verdict,
      "aria-pressed": String(sameId(columns.ids[i], model.get("selected"))),
      tabindex: -1,
      "aria-label": `Image ${idText(i)}: predicted ${className(columns.pred[i])}, true ${className(columns.label[i])}${failed ? ", failed" : ""}`,
    });
    const url = urlOf(i);
    const picture = url === null
      ? h("div", "xw-thumb-missing", { "data-testid": "xw-dx-thumb-missing" }, pending.has(i) ? "\u2026" : "no image")
      : h("img", "xw-thumb-img", { alt: "", src: url, "data-testid": "xw-dx-thumb-img", draggable: "false" });
    const mark = verdict === "correct" ? "\u2713" : verdict === "wrong" ? "\u2717" : "";
    const truth = h("div", "xw-line", { "data-testid": "xw-dx-thumb-true" }, `true ${className(columns.label[i])} `);
    truth.append(h("span", "xw-mark", {}, mark));
    button.append(
      picture,
      h("div", "xw-line xw-id", { title: idText(i) }, idText(i)),
      h("div", "xw-line", { "data-testid": "xw-dx-thumb-pred" }, `${className(columns.pred[i])} ${formatProbability(columns.confidence[i])}`),
      truth,
    );
    if (failed) button.append(h("div", "xw-line xw-failed", { "data-testid": "xw-dx-thumb-failed", title: errorTexts[columns.error[i]] ?? "" }, "\u26a0 failed"));
    return button;
  }

  function buildHead(): void {
    const keys = [...BASE_COLUMNS.slice(0, 5), ...columns.metrics.map((m) => m.name), "error"];
    const by = String(model.get("sort_by") ?? "");
    const order = model.get("sort_order") === "desc" ? "descending" : "ascending";
    const row = h("tr");
    for (const k of keys) {
      const th = h("th", null, { scope: "col", "aria-sort": k === by ? order : "none" });
      const text = `${COLUMN_TITLES[k] ?? k}${k === by ? (order === "ascending" ? " \u2191" : " \u2193") : ""}`;
      th.append(h("button", null, { type: "button", "data-testid": "xw-dx-col", "data-column": k }, text));
      row.append(th);
    }
    thead.replaceChildren(row);
  }

  function tableRow(i: number): HTMLTableRowElement {
    const tr = h("tr", null, {
      "data-testid": "xw-dx-row",
      "data-row": i,
      "data-id": idText(i),
      "data-correct": correctnessOf(columns, i),
      "aria-selected": String(sameId(columns.ids[i], model.get("selected"))),
      tabindex: -1,
    });
    const texts = cellTexts(i);
    const numeric = new Set([3, ...columns.metrics.map((_, k) => 5 + k)]);
    texts.forEach((t, k) => {
      const td = h("td", numeric.has(k) ? "xw-num" : null, {}, t);
      if (k === 4) {
        td.replaceChildren(h("span", "xw-mark", {}, t));
      }
      if (k === texts.length - 1 && t !== "") {
        td.className = "xw-failed";
        td.title = t;
      }
      tr.append(td);
    });
    return tr;
  }

  /** Filter, sort and page; rebuild only the page's elements. */
  function refresh(): void {
    const f = filtersNow();
    syncControls(f);
    shown = sortRows(columns, filterRows(columns, f), String(model.get("sort_by") ?? "image_id"),
      model.get("sort_order") === "desc" ? "desc" : "asc", errorTexts);
    const slice = pageSlice(shown.length, model.get("page"), model.get("page_size"));
    pageRows = shown.slice(slice.start, slice.end);
    count.textContent = `${shown.length.toLocaleString("en-US")} of ${columns.n.toLocaleString("en-US")} shown`;
    pageText.textContent = shown.length === 0 ? "No rows" : `Page ${slice.page + 1} of ${slice.pages} \u00b7 rows ${slice.start + 1}\u2013${slice.end}`;
    prev.disabled = slice.page === 0;
    next.disabled = slice.page >= slice.pages - 1;
    pager.dataset.page = String(slice.page);
    empty.hidden = shown.length > 0 || columns.n === 0;
    const mode = model.get("mode") === "table" ? "table" : "grid";
    grid.hidden = mode !== "grid";
    tableBox.hidden = mode !== "table";
    if (mode === "grid") {
      grid.replaceChildren(...pageRows.map(thumbButton));
      tbody.replaceChildren();
      requestThumbnails();
    } else {
      buildHead();
      tbody.replaceChildren(...pageRows.map(tableRow));
      grid.replaceChildren();
    }
    rovingFocus();
    root.dataset.page = pageRows.map(idText).join(",");
  }

  function requestThumbnails(): void {
    const missing = missingThumbnails(pageRows, pngs, pending);
    if (missing.length === 0 || version === "") return;
    for (const r of missing) pending.add(r);
    model.send({ type: "thumbnails", version, rows: missing });
  }

  /** New thumbnails arrived: put them into the page's placeholders. */
  function takeThumbnails(got: { version: string; pngs: Map<number, Uint8Array> }): void {
    if (got.version !== version) return;
    for (const [row, png] of got.pngs) {
      pngs.set(row, png);
      pending.delete(row);
    }
    for (const button of grid.querySelectorAll<HTMLElement>(".xw-thumb")) {
      const row = Number(button.dataset.row);
      const missing = button.querySelector(".xw-thumb-missing");
      const url = missing === null ? null : urlOf(row);
      if (missing !== null && url !== null) {
        missing.replaceWith(h("img", "xw-thumb-img", { alt: "", src: url, "data-testid": "xw-dx-thumb-img", draggable: "false" }));
      }
    }
  }

  /** One element of the page in the tab order: the selected one if shown, else the first. */
  function rovingFocus(): void {
    const items = [...root.querySelectorAll<HTMLElement>(".xw-thumb, tbody tr")];
    const selectedAt = items.findIndex((e) => sameId(columns.ids[Number(e.dataset.row)], model.get("selected")));
    items.forEach((e, k) => (e.tabIndex = k === (selectedAt >= 0 ? selectedAt : 0) ? 0 : -1));
  }

  // ---------------------------------------------------------------- events
  function open(row: number): void {
    const id = columns.ids[row];
    if (id === undefined || sameId(id, model.get("selected"))) return;
    save({ selected: id });
  }

  function itemEvents(container: HTMLElement, selector: string): Array<() => void> {
    return [
      listen(container, "click", (event) => {
        const item = (event.target as Element).closest<HTMLElement>(selector);
        if (item !== null && container.contains(item)) open(Number(item.dataset.row));
      }),
      listen(container, "keydown", (event) => {
        const item = (event.target as Element).closest<HTMLElement>(selector);
        if (item === null) return;
        const items = [...container.querySelectorAll<HTMLElement>(selector)];
        if ((event.key === "Enter" || event.key === " ") && item.tagName === "TR") {
          event.preventDefault();
          open(Number(item.dataset.row));
          return;
        }
        const to = navigate(items.indexOf(item), event.key, items.length);
        if (to === null) return;
        event.preventDefault();
        items.forEach((e, k) => (e.tabIndex = k === to ? 0 : -1));
        items[to]?.focus();
      }),
    ];
  }

  function rangeInput(input: HTMLInputElement, apply: (v: number | null) => boolean): () => void {
    return listen(input, "change", () => {
      const v = parseBound(input.value);
      if (v === undefined || !apply(v)) {
        input.value = "";
        refresh();
      }
    });
  }

  cleanups.push(
    ...itemEvents(grid, ".xw-thumb"),
    ...itemEvents(tbody, "tr"),
    listen(thead, "click", (event) => {
      const button = (event.target as Element).closest<HTMLElement>("[data-column]");
      if (button === null) return;
      const k = button.dataset.column ?? "image_id";
      const same = model.get("sort_by") === k;
      save({ sort_by: k, sort_order: same && model.get("sort_order") === "asc" ? "desc" : "asc", page: 0 });
    }),
    listen(versionSelect, "change", () => save({ version: versionSelect.value })),
    listen(sortSelect, "change", () => save({ sort_by: sortSelect.value, page: 0 })),
    listen(orderButton, "click", () => save({ sort_order: model.get("sort_order") === "desc" ? "asc" : "desc", page: 0 })),
    listen(trueSelect, "change", () => setFilters({ true_class: Number(trueSelect.value) })),
    listen(predSelect, "change", () => setFilters({ predicted_class: Number(predSelect.value) })),
    listen(statusSelect, "change", () => setFilters({ status: statusSelect.value })),
    ...bindRadioGroup(correctGroup, {
      selector: ".xw-segment",
      position: (b) => Number(b.dataset.position),
      current: () => CORRECTNESS.indexOf(filtersNow().correctness),
      count: () => CORRECTNESS.length,
      choose: (p, focus) => {
        if (focus) correctButtons[p]?.focus();
        setFilters({ correctness: CORRECTNESS[p] });
      },
    }),
    ...bindRadioGroup(modeGroup, {
      selector: ".xw-segment",
      position: (b) => Number(b.dataset.position),
      current: () => MODES.indexOf(model.get("mode") === "table" ? "table" : "grid"),
      count: () => MODES.length,
      choose: (p, focus) => {
        if (focus) modeButtons[p]?.focus();
        save({ mode: MODES[p] });
      },
    }),
    rangeInput(confMin, (v) => {
      const hi = filtersNow().confidence[1];
      const lo = v ?? 0;
      if (lo < 0 || lo > hi) return false;
      setFilters({ confidence_range: [lo, hi] });
      return true;
    }),
    rangeInput(confMax, (v) => {
      const lo = filtersNow().confidence[0];
      const hi = v ?? 1;
      if (hi > 1 || hi < lo) return false;
      setFilters({ confidence_range: [lo, hi] });
      return true;
    }),
    listen(metricBox, "change", (event) => {
      const input = event.target as HTMLInputElement;
      const name = input.dataset.metric;
      if (name === undefined) return;
      const v = parseBound(input.value);
      const current = filtersNow().metrics.get(name) ?? [null, null];
      const pair: [number | null, number | null] = input.dataset.testid === "xw-dx-metric-min" ? [v ?? null, current[1]] : [current[0], v ?? null];
      if (v === undefined || (pair[0] !== null && pair[1] !== null && pair[0] > pair[1])) {
        input.value = "";
        refresh();
        return;
      }
      const ranges: Record<string, [number | null, number | null]> = {};
      for (const [k, p] of filtersNow().metrics) ranges[k] = p;
      if (pair[0] === null && pair[1] === null) delete ranges[name];
      else ranges[name] = pair;
      setFilters({ metric_ranges: ranges });
    }),
    listen(reset, "click", () => setFilters({
      true_class: -1, predicted_class: -1, correctness: "all", status: "all", confidence_range: [0, 1], metric_ranges: {},
    })),
    listen(prev, "click", () => save({ page: pageSlice(shown.length, model.get("page"), model.get("page_size")).page - 1 })),
    listen(next, "click", () => save({ page: pageSlice(shown.length, model.get("page"), model.get("page_size")).page + 1 })),
    listen(close, "click", () => save({ selected: null })),
  );

  // ---------------------------------------------------------------- the opened viewer
  const embedded = new ChildView(model, slot, SHARED);

  function buildViews(): void {
    const views = (Array.isArray(model.get("views")) ? (model.get("views") as unknown[]) : []).map(String);
    const current = String(model.get("view") ?? "saliency");
    viewGroup.replaceChildren(...views.map((v) =>
      h("button", "xw-segment", { type: "button", role: "radio", "data-testid": `xw-dx-view-${v}`, "data-view": v,
        "aria-checked": String(v === current), tabindex: v === current ? 0 : -1 }, v === "concepts" ? "Concepts" : "Saliency")));
    viewGroup.hidden = views.length <= 1;
  }

  cleanups.push(listen(viewGroup, "click", (event) => {
    const button = (event.target as Element).closest<HTMLElement>("[data-view]");
    if (button !== null) save({ view: button.dataset.view });
  }));

  function mountOpened(): void {
    const selected = model.get("selected");
    const row = rowOf(columns, selected);
    for (const e of root.querySelectorAll<HTMLElement>(".xw-thumb")) e.setAttribute("aria-pressed", String(Number(e.dataset.row) === row && row >= 0));
    for (const e of tbody.querySelectorAll<HTMLElement>("tr")) e.setAttribute("aria-selected", String(Number(e.dataset.row) === row && row >= 0));
    rovingFocus();
    root.dataset.selected = selected === null || selected === undefined ? "" : String(selected);
    if (selected === null || selected === undefined) {
      embedded.unmount();
      openedBox.hidden = true;
      return;
    }
    openedBox.hidden = false;
    const view = String(model.get("view") ?? "saliency");
    buildViews();
    const got = openedFor(model.get("opened"), selected, model.get("version"), view);
    openedTitle.textContent = `Image ${String(selected)}`;
    loading.hidden = got !== null;
    openError.hidden = got?.error == null;
    openError.textContent = got?.error ?? "";
    if (got !== null && embedded.shows(got.state)) return;
    embedded.unmount();
    if (got === null || got.state === null) return;
    const host = h("div", "xw-viewer-host", { "data-id": String(selected), "data-view": view });
    embedded.mount(MODULES[view] ?? saliencyViewer, got.state, { ...got.state }, host, (e) =>
      setError("viewer", e === null ? null : `Cannot show image ${String(selected)}: ${e.message}.`),
    );
  }

  // ---------------------------------------------------------------- trait -> view
  function loadThumbnailTrait(): void {
    try {
      const got = readThumbnailTrait(model.get("thumbnails"));
      if (got !== null) takeThumbnails(got);
      setError("thumbnails", null);
    } catch (e) {
      setError("thumbnails", `Cannot read the thumbnails: ${(e as Error).message}.`);
    }
  }

  function loadAll(): void {
    try {
      columns = readColumns(model.get("columns"));
      setError("columns", null);
    } catch (e) {
      columns = EMPTY_COLUMNS;
      setError("columns", `Cannot read the rows: ${(e as Error).message}.`);
    }
    names = (Array.isArray(model.get("class_names")) ? (model.get("class_names") as unknown[]) : []).map(String);
    errorTexts = (Array.isArray(model.get("error_texts")) ? (model.get("error_texts") as unknown[]) : []).map(String);
    version = String(model.get("version") ?? "");
    clearThumbnails();
    loadThumbnailTrait();
    const size = Number(model.get("thumbnail_size"));
    grid.style.setProperty("--xw-thumb", `${Math.max(96, Math.min(160, (Number.isFinite(size) ? size : 64) + 32))}px`);
    const t = tally(columns);
    const versions = Array.isArray(model.get("versions")) ? (model.get("versions") as Array<Record<string, unknown>>) : [];
    const method = String(versions.find((v) => v?.version === version)?.method ?? "");
    const parts = [`${columns.n.toLocaleString("en-US")} image${columns.n === 1 ? "" : "s"}`];
    if (method) parts.push(method);
    if (t.correct + t.wrong > 0) parts.push(`${t.correct} right`, `${t.wrong} wrong`);
    if (t.failed > 0) parts.push(`${t.failed} failed`);
    subtitle.textContent = parts.join(" \u00b7 ");
    buildVersions();
    buildSortOptions();
    buildMetricInputs();
    refresh();
    mountOpened();
  }

  function loadTitle(): void {
    showText(title, model.get("title"));
  }

  const onMessage = (content: unknown, buffers: unknown): void => {
    try {
      const got = readThumbnailMessage(content, buffers);
      if (got !== null) takeThumbnails(got);
    } catch (e) {
      setError("thumbnails", `Cannot read the thumbnails: ${(e as Error).message}.`);
    }
  };
  model.on("msg:custom", onMessage as (...args: unknown[]) => void);
  cleanups.push(() => model.off("msg:custom", onMessage as (...args: unknown[]) => void));

  const handlers: Array<[string, () => void]> = [
    ["change:columns", loadAll],
    ["change:class_names", loadAll],
    ["change:error_texts", loadAll],
    ["change:version", loadAll],
    ["change:versions", buildVersions],
    ["change:thumbnails", loadThumbnailTrait],
    ["change:thumbnail_size", loadAll],
    ["change:opened", mountOpened],
    ["change:selected", mountOpened],
    ["change:view", mountOpened],
    ["change:views", mountOpened],
    ["change:title", loadTitle],
  ];
  for (const name of ["true_class", "predicted_class", "correctness", "status", "confidence_range", "metric_ranges",
    "sort_by", "sort_order", "mode", "page", "page_size"]) handlers.push([`change:${name}`, refresh]);
  cleanups.push(...subscribe(model, handlers), ...embedded.followParent());

  loadTitle();
  loadAll();
  root.dataset.ready = "true";

  return teardown(el, cleanups, () => {
    embedded.unmount();
    clearThumbnails();
  });
}

export type { WidgetModel };
export default { render };
