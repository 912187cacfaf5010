// Leaderboard: a benchmark's methods (rows) x metrics (columns) table of mean scores.
//
// Clicking a header sorts the rows best first, respecting the metric's higher_is_better
// (a second click: worst first); each column's best mean is highlighted; clicking a cell
// shows that method's map over the image chosen in the image picker, with the metric's
// score on that image. Ranks (1 = best, ties share the average rank) are computed here
// from the means with the same rule as Python's BenchmarkResult.rank_table. Everything is
// client-side; UI changes set the trait and call save_changes().
//
// Traits: methods [{name, detail, seconds}] (N) | metrics [{name, higher_is_better, kind,
// summary, paper, protocol}] (K) | means, stds [[number | null]] (N x K) | counts [[int]] |
// notes [[str]] (why a cell has no score) | scores {data, dtype, shape: [N, K, M]} (each
// image's score, NaN: none) | images [{png, width, height}] (M) | columns [{caption, label,
// probability}] (M) | maps {data, dtype, shape: [N, M, H, W]} | issues [str] | sort_by
// (-1 mean rank, -2 time, k metric) | sort_order "best" | "worst" | selected [] or
// [method, metric] | image | scale | colormap | opacity | title | subtitle.

import { decodeShaped } from "./lib/buffers";
import { bindDisplayControls, controlSection, displayControls, opacitySection } from "./lib/controls";
import { h, listen, readOrReport, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatProbability, formatValue } from "./lib/format";
import { ImageList } from "./lib/image";
import { gridMismatch, readGridMaps, readImageColumns, type GridMaps, type ImageColumn } from "./lib/image_grid";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { absQuantile, displayFor, isSignedDisplay, mapRange, type Display } from "./lib/normalise";
import { drawOverlay, paintColourBar, paintHeat, pixelRatio, readColormap, readScale } from "./lib/overlay";
import { clampOpacity, clampSelection, readGridCell } from "./lib/selection";
import { LEADERBOARD_CSS } from "./leaderboard.styles";

// ------------------------------------------------------------------ pure logic (tested in vitest)

export const SORT_ORDERS = ["best", "worst"] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];
/** `sort_by` of the mean-rank column and of the time column; metrics are 0..K-1. */
export const SORT_RANK = -1;
export const SORT_TIME = -2;

export function isSortOrder(value: unknown): value is SortOrder {
  return typeof value === "string" && (SORT_ORDERS as readonly string[]).includes(value);
}

/** A finite number, or null (missing, NaN, infinite, not a number). */
export function finiteOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The rank of each value, 1 = best (the highest when `higherIsBetter`, else the lowest);
 * equal values share the average of their ranks; missing values get null. The same rule
 * as Python's `average_ranks`.
 */
export function averageRanks(values: ReadonlyArray<number | null>, higherIsBetter: boolean): Array<number | null> {
  const vals = values.map(finiteOrNull);
  const valid = vals.flatMap((v, i) => (v === null ? [] : [i]));
  valid.sort((a, b) => {
    const d = higherIsBetter ? (vals[b] as number) - (vals[a] as number) : (vals[a] as number) - (vals[b] as number);
    return d !== 0 ? d : a - b;
  });
  const ranks: Array<number | null> = vals.map(() => null);
  let start = 0;
  while (start < valid.length) {
    let stop = start;
    while (stop + 1 < valid.length && vals[valid[stop + 1]] === vals[valid[start]]) stop++;
    const shared = (start + stop) / 2 + 1;
    for (let j = start; j <= stop; j++) ranks[valid[j]] = shared;
    start = stop + 1;
  }
  return ranks;
}

/** Ranks of every method on every metric: `means` is N x K, `higher` has K entries; N x K out. */
export function rankMatrix(
  means: ReadonlyArray<ReadonlyArray<number | null>>,
  higher: readonly boolean[],
): Array<Array<number | null>> {
  const out = means.map(() => higher.map((): number | null => null));
  higher.forEach((hib, k) => {
    const ranks = averageRanks(means.map((row) => row[k] ?? null), hib);
    ranks.forEach((r, n) => (out[n][k] = r));
  });
  return out;
}

/** Each method's mean rank over the metrics it has a rank for (null: none). */
export function meanRanks(ranks: ReadonlyArray<ReadonlyArray<number | null>>): Array<number | null> {
  return ranks.map((row) => {
    const have = row.filter((r): r is number => r !== null);
    return have.length ? have.reduce((a, b) => a + b, 0) / have.length : null;
  });
}

/**
 * Row positions sorted by `keys`: best first under "best" (the highest key when
 * `higherIsBetter`), worst first under "worst"; missing keys always last; equal keys keep
 * their order. The same rule as Python's `sort_rows`.
 */
export function sortRows(keys: ReadonlyArray<number | null>, higherIsBetter: boolean, order: SortOrder): number[] {
  const vals = keys.map(finiteOrNull);
  const present = vals.flatMap((v, i) => (v === null ? [] : [i]));
  const missing = vals.flatMap((v, i) => (v === null ? [i] : []));
  const descending = higherIsBetter === (order === "best");
  present.sort((a, b) => {
    const d = descending ? (vals[b] as number) - (vals[a] as number) : (vals[a] as number) - (vals[b] as number);
    return d !== 0 ? d : a - b;
  });
  return [...present, ...missing];
}

/** Positions of the best value (several when tied); none when every value is missing. */
export function bestRows(values: ReadonlyArray<number | null>, higherIsBetter: boolean): number[] {
  const vals = values.map(finiteOrNull);
  let best: number | null = null;
  for (const v of vals) if (v !== null && (best === null || (higherIsBetter ? v > best : v < best))) best = v;
  return best === null ? [] : vals.flatMap((v, i) => (v === best ? [i] : []));
}

/** The aria-sort of a sorted column: which way its values run down the table. */
export function ariaSort(higherIsBetter: boolean, order: SortOrder): "ascending" | "descending" {
  return higherIsBetter === (order === "best") ? "descending" : "ascending";
}

export interface MethodEntry {
  name: string;
  detail: string;
  seconds: number | null;
}

export interface MetricEntry {
  name: string;
  higherIsBetter: boolean;
  kind: string;
  summary: string;
  paper: string;
  protocol: string;
}

/** The keys and direction a `sort_by` value sorts by. */
export function sortKeys(
  sortBy: number,
  means: ReadonlyArray<ReadonlyArray<number | null>>,
  metrics: readonly MetricEntry[],
  methods: readonly MethodEntry[],
): { keys: Array<number | null>; higherIsBetter: boolean } {
  if (sortBy >= 0 && sortBy < metrics.length) {
    return { keys: means.map((row) => finiteOrNull(row[sortBy])), higherIsBetter: metrics[sortBy].higherIsBetter };
  }
  if (sortBy === SORT_TIME) return { keys: methods.map((m) => m.seconds), higherIsBetter: false };
  return { keys: meanRanks(rankMatrix(means, metrics.map((m) => m.higherIsBetter))), higherIsBetter: false };
}

/** A valid `sort_by`: -2, -1 or a metric position; anything else is the mean rank. */
export function readSortBy(value: unknown, metrics: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= SORT_TIME && n < metrics ? n : SORT_RANK;
}

export function readMethodEntries(value: unknown): MethodEntry[] {
  if (!Array.isArray(value)) return [];
  return value.map((m: Partial<{ name: unknown; detail: unknown; seconds: unknown }> | null, i) => ({
    name: String(m?.name ?? `method ${i}`),
    detail: String(m?.detail ?? ""),
    seconds: finiteOrNull(m?.seconds),
  }));
}

export function readMetricEntries(value: unknown): MetricEntry[] {
  if (!Array.isArray(value)) return [];
  return value.map((m: Record<string, unknown> | null, i) => ({
    name: String(m?.name ?? `metric ${i}`),
    higherIsBetter: m?.higher_is_better !== false,
    kind: String(m?.kind ?? ""),
    summary: String(m?.summary ?? ""),
    paper: String(m?.paper ?? ""),
    protocol: String(m?.protocol ?? ""),
  }));
}

/** An N x K table of numbers (null where missing or malformed). */
export function readTable(value: unknown, n: number, k: number): Array<Array<number | null>> {
  const rows = Array.isArray(value) ? value : [];
  return Array.from({ length: n }, (_, i) => {
    const row = Array.isArray(rows[i]) ? (rows[i] as unknown[]) : [];
    return Array.from({ length: k }, (_, j) => finiteOrNull(row[j]));
  });
}

/** An N x K table of strings ("" where missing). */
export function readNotes(value: unknown, n: number, k: number): string[][] {
  const rows = Array.isArray(value) ? value : [];
  return Array.from({ length: n }, (_, i) => {
    const row = Array.isArray(rows[i]) ? (rows[i] as unknown[]) : [];
    return Array.from({ length: k }, (_, j) => (typeof row[j] === "string" ? (row[j] as string) : ""));
  });
}

/** "1", "1.5", "2.33": a rank as short text. */
export function formatRank(rank: number | null): string {
  if (rank === null) return "\u2013";
  return Number.isInteger(rank) ? String(rank) : rank.toFixed(2).replace(/0$/, "");
}

/** Seconds as "85 ms" or "2.31 s". */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return "\u2013";
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}

// ------------------------------------------------------------------ the widget

interface Scores {
  data: Float32Array | Uint8Array;
  methods: number;
  metrics: number;
  images: number;
}

/** Longest side of the drawn image in CSS pixels. */
const DISPLAY_SIZE = 256;

function readScores(value: unknown): Scores {
  const decoded = decodeShaped(value, "scores", ["N", "K", "M"]);
  const [methods, metrics, images] = decoded.shape;
  return { data: decoded.data, methods, metrics, images };
}

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLButtonElement[];
  rank: HTMLTableCellElement;
  time: HTMLTableCellElement;
}

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const { root, header, title, error, setError } = widgetFrame("leaderboard", LEADERBOARD_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);
  const uid = uniqueId("xw-lb");

  const body = h("div", "xw-body");
  const board = h("div", "xw-board");
  const scroll = h("div", "xw-scroll");
  const table = h("table", "xw-table", { "data-testid": "xw-table" });
  const caption = h("caption", null, { style: "position: absolute; left: -9999px" }, "Benchmark: methods by metrics");
  const thead = h("thead");
  const tbody = h("tbody", null, { "data-testid": "xw-tbody" });
  table.append(caption, thead, tbody);
  scroll.append(table);
  const issuesList = h("ul", "xw-issues", { "data-testid": "xw-issues" });
  const protocol = h("details", "xw-protocol", { "data-testid": "xw-protocol" });
  board.append(scroll, issuesList, protocol);

  const detail = h("div", "xw-detail", { "data-testid": "xw-detail" });
  const detailTitle = h("div", "xw-detail-title", { "data-testid": "xw-detail-title", "aria-live": "polite" });
  const imageControl = h("div", "xw-control");
  const imageLabel = h("label", "xw-heading", { for: `${uid}-image` }, "Image");
  const imageSelect = h("select", "xw-select", { id: `${uid}-image`, "data-testid": "xw-image" });
  imageControl.append(imageLabel, imageSelect);
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-canvas", role: "img" });
  const heat = document.createElement("canvas");
  const score = h("div", "xw-score", { "data-testid": "xw-score", "aria-live": "polite" });
  const ramp = h("div", "xw-colorbar-ramp", { "aria-hidden": "true" });
  const ticks = h("div", "xw-ticks");
  const tickMin = h("span", null, { "data-testid": "xw-tick-min" });
  const tickMax = h("span", null, { "data-testid": "xw-tick-max" });
  ticks.append(tickMin, tickMax);
  const controls = displayControls({ uid, colormapClass: "xw-select", scaleClass: "xw-select", scaleText: "Values" });
  detail.append(
    detailTitle,
    imageControl,
    canvas,
    ramp,
    ticks,
    score,
    controlSection(controls.colormapLabel, controls.colormap),
    controlSection(controls.scaleLabel, controls.scale),
    opacitySection(controls, "toolbar"),
  );

  body.append(board, detail);
  root.append(body, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let methods: MethodEntry[] = [];
  let metrics: MetricEntry[] = [];
  let means: Array<Array<number | null>> = [];
  let stds: Array<Array<number | null>> = [];
  let counts: Array<Array<number | null>> = [];
  let notes: string[][] = [];
  let ranks: Array<Array<number | null>> = [];
  let rankMeans: Array<number | null> = [];
  let columns: ImageColumn[] = [];
  let maps: GridMaps | null = null;
  let scores: Scores | null = null;
  const images = new ImageList();
  let imageSize = { width: 1, height: 1 };
  let rows: Row[] = [];
  let heads: HTMLTableCellElement[] = [];
  let display: Display | null = null;

  const N = (): number => methods.length;
  const K = (): number => metrics.length;
  const M = (): number => columns.length;

  function sortOrder(): SortOrder {
    const v = model.get("sort_order");
    return isSortOrder(v) ? v : "best";
  }

  function selectedCell(): readonly [number, number] | null {
    return readGridCell(model.get("selected"), N(), K());
  }

  function currentImage(): number {
    return clampSelection(model.get("image"), M());
  }

  // ---------------------------------------------------------------- table structure
  function sortButton(label: string, arrow: string, testid: string, value: number, tip: string): HTMLTableCellElement {
    const th = h("th", null, { scope: "col", "data-sort": value });
    const button = h("button", "xw-sort", { type: "button", "data-testid": testid, "data-sort": value, title: tip });
    button.append(h("span", null, {}, label));
    if (arrow) button.append(h("span", "xw-arrow", { "aria-label": arrow === "\u2191" ? "higher is better" : "lower is better" }, arrow));
    button.append(h("span", "xw-sort-mark", { "aria-hidden": "true" }));
    th.append(button);
    return th;
  }

  function build(): void {
    const headRow = h("tr");
    const methodHead = h("th", "xw-method-head", { scope: "col" }, "Method");
    headRow.append(methodHead);
    heads = [];
    metrics.forEach((m, k) => {
      const tip = [m.summary, m.paper, m.protocol ? `Protocol: ${m.protocol}` : "", m.higherIsBetter ? "Higher is better." : "Lower is better."]
        .filter((s) => s !== "")
        .join("\n");
      const th = sortButton(m.name, m.higherIsBetter ? "\u2191" : "\u2193", `xw-sort-${k}`, k, tip);
      heads.push(th);
      headRow.append(th);
    });
    const rankHead = sortButton("Mean rank", "\u2193", "xw-sort-rank", SORT_RANK, "Mean of the method's ranks over the metrics (1 = best; ties share the average rank).");
    const timeHead = sortButton("Time", "\u2193", "xw-sort-time", SORT_TIME, "Wall-clock time to compute the method's maps.");
    heads.push(rankHead, timeHead);
    headRow.append(rankHead, timeHead);
    thead.replaceChildren(headRow);

    rows = methods.map((method, n) => {
      const tr = h("tr", null, { "data-testid": `xw-row-${n}`, "data-method": n });
      const nameCell = h("td", "xw-method-cell");
      nameCell.append(h("div", "xw-method-name", {}, method.name));
      const detailLine = h("div", "xw-method-detail", {}, method.detail);
      detailLine.hidden = method.detail === "";
      nameCell.append(detailLine);
      tr.append(nameCell);
      const cells = metrics.map((metric, k) => {
        const td = h("td");
        const button = h("button", "xw-cell", {
          type: "button", "data-testid": `xw-cell-${n}-${k}`, "data-method": n, "data-metric": k, "aria-pressed": "false",
        });
        const mean = means[n]?.[k] ?? null;
        const rank = ranks[n]?.[k] ?? null;
        const note = notes[n]?.[k] ?? "";
        button.append(
          h("span", "xw-mean", {}, mean === null ? (note ? "failed" : "\u2013") : formatValue(mean)),
          h("span", "xw-cell-sub", {}, mean === null ? "" : `rank ${formatRank(rank)}`),
        );
        button.dataset.missing = String(mean === null);
        if (mean !== null) button.dataset.value = String(mean);
        if (rank !== null) button.dataset.rank = String(rank);
        const std = stds[n]?.[k] ?? null;
        const count = counts[n]?.[k] ?? 0;
        button.title = mean === null
          ? `${method.name}, ${metric.name}: ${note || "not computed"}`
          : `${method.name}, ${metric.name}: mean ${formatValue(mean)}${std === null ? "" : ` \u00b1 ${formatValue(std)}`} over ${count} image${count === 1 ? "" : "s"}; rank ${formatRank(rank)} of ${N()}. Click to see the map.`;
        button.setAttribute("aria-label", `${method.name}, ${metric.name}: ${mean === null ? "no score" : formatValue(mean)}`);
        td.append(button);
        tr.append(td);
        return button;
      });
      const rank = h("td", "xw-plain", { "data-testid": `xw-rank-${n}` }, formatRank(rankMeans[n] ?? null));
      const r = rankMeans[n];
      if (r !== null && r !== undefined) rank.dataset.value = String(r);
      const time = h("td", "xw-plain", { "data-testid": `xw-time-${n}` }, formatSeconds(method.seconds));
      tr.append(rank, time);
      return { tr, cells, rank, time };
    });

    // the best of each column
    metrics.forEach((m, k) => {
      const best = new Set(bestRows(means.map((row) => row[k] ?? null), m.higherIsBetter));
      rows.forEach((row, n) => (row.cells[k].dataset.best = String(best.has(n))));
    });
    const bestRank = new Set(bestRows(rankMeans, false));
    const bestTime = new Set(bestRows(methods.map((m) => m.seconds), false));
    rows.forEach((row, n) => {
      row.rank.dataset.best = String(bestRank.has(n));
      row.time.dataset.best = String(bestTime.has(n));
    });

    // protocol and issues, stated under the table
    protocol.replaceChildren(h("summary", null, {}, "Protocol"));
    const list = h("ul");
    for (const m of metrics) {
      const item = h("li");
      item.append(h("code", null, {}, m.name), document.createTextNode(`${m.paper ? ` (${m.paper})` : ""}: ${m.protocol || "no parameters"}`));
      list.append(item);
    }
    protocol.append(list);
    protocol.hidden = metrics.length === 0;
    syncSort();
    syncSelection();
  }

  function loadIssues(): void {
    const issues = Array.isArray(model.get("issues")) ? (model.get("issues") as unknown[]).map(String) : [];
    issuesList.replaceChildren(...issues.map((text) => h("li", null, {}, text)));
    issuesList.hidden = issues.length === 0;
  }

  // ---------------------------------------------------------------- sorting
  function syncSort(): void {
    const sortBy = readSortBy(model.get("sort_by"), K());
    const order = sortOrder();
    const { keys, higherIsBetter } = sortKeys(sortBy, means, metrics, methods);
    const positions = sortRows(keys, higherIsBetter, order);
    positions.forEach((n, position) => {
      const row = rows[n];
      if (row === undefined) return;
      row.tr.dataset.position = String(position);
      tbody.append(row.tr);
    });
    tbody.dataset.order = positions.join(",");
    for (const th of heads) {
      const value = Number(th.dataset.sort);
      const mark = th.querySelector<HTMLElement>(".xw-sort-mark");
      if (value === sortBy) {
        const hib = value >= 0 ? (metrics[value]?.higherIsBetter ?? true) : false;
        th.setAttribute("aria-sort", ariaSort(hib, order));
        if (mark) mark.textContent = order === "best" ? "\u25be" : "\u25b4";
      } else {
        th.removeAttribute("aria-sort");
        if (mark) mark.textContent = "";
      }
    }
  }

  cleanups.push(
    listen(thead, "click", (event) => {
      const button = (event.target as Element).closest<HTMLElement>(".xw-sort");
      if (button === null || !thead.contains(button)) return;
      const value = Number(button.dataset.sort);
      const current = readSortBy(model.get("sort_by"), K());
      if (value === current) {
        model.set("sort_order", sortOrder() === "best" ? "worst" : "best");
      } else {
        model.set("sort_by", value);
        model.set("sort_order", "best");
      }
      model.save_changes();
    }),
  );

  // ---------------------------------------------------------------- selection and the map
  function syncSelection(): void {
    const s = selectedCell();
    rows.forEach((row, n) => {
      row.tr.dataset.selected = String(s !== null && s[0] === n);
      row.cells.forEach((cell, k) => cell.setAttribute("aria-pressed", String(s !== null && s[0] === n && s[1] === k)));
    });
    recolour();
  }

  cleanups.push(
    listen(tbody, "click", (event) => {
      const cell = (event.target as Element).closest<HTMLElement>(".xw-cell");
      if (cell === null || !tbody.contains(cell)) return;
      model.set("selected", [Number(cell.dataset.method), Number(cell.dataset.metric)]);
      model.save_changes();
    }),
    listen(imageSelect, "change", () => {
      model.set("image", clampSelection(Number(imageSelect.value), M()));
      model.save_changes();
    }),
  );

  function usableMaps(): GridMaps | null {
    return maps !== null && maps.methods === N() && maps.images === M() && maps.rows > 0 && maps.cols > 0 ? maps : null;
  }

  /** Colourise the selected method's map of the current image, then draw. */
  function recolour(): void {
    const s = selectedCell();
    const g = usableMaps();
    display = null;
    if (s !== null && g !== null) {
      const size = g.rows * g.cols;
      const index = s[0] * g.images + currentImage();
      const scale = readScale(model);
      const range = mapRange(g.data, index * size, size);
      const limit = isSignedDisplay(scale, range) ? absQuantile(g.data, index * size, size) : undefined;
      const d = displayFor(scale, range, limit);
      if (paintHeat(heat, g.data, index, g.rows, g.cols, d, readColormap(model))) display = d;
    }
    paintColourBar(ramp, tickMin, tickMax, display, readColormap(model));
    draw();
    describe();
  }

  function draw(): void {
    if (disposed) return;
    const ctx = canvas.getContext("2d");
    if (ctx === null) return;
    drawOverlay(ctx, canvas, images.images[currentImage()] ?? null, display === null ? null : heat, clampOpacity(model.get("opacity")));
    canvas.dataset.drawn = String(display !== null);
  }

  function sizeCanvas(): void {
    const { width, height } = imageSize;
    const k = DISPLAY_SIZE / Math.max(width, height);
    const w = Math.max(1, Math.round(width * k));
    const hgt = Math.max(1, Math.round(height * k));
    const dpr = pixelRatio();
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
  }

  function scoreAt(n: number, k: number, m: number): number | null {
    if (scores === null || scores.methods !== N() || scores.metrics !== K() || scores.images !== M()) return null;
    return finiteOrNull(scores.data[(n * scores.metrics + k) * scores.images + m]);
  }

  /** The detail pane's title and score line. */
  function describe(): void {
    const s = selectedCell();
    const m = currentImage();
    const column = columns[m];
    if (s === null) {
      detailTitle.textContent = "Click a cell to see the method's map.";
      detailTitle.dataset.empty = "true";
      score.replaceChildren();
      delete score.dataset.value;
      canvas.setAttribute("aria-label", column ? column.caption : "Image");
      return;
    }
    const [n, k] = s;
    const method = methods[n];
    const metric = metrics[k];
    detailTitle.dataset.empty = "false";
    detailTitle.textContent = `${method.name} \u00b7 ${metric.name}`;
    canvas.setAttribute("aria-label", `${method.name}'s map of ${column?.caption ?? `image ${m}`}`);
    const value = scoreAt(n, k, m);
    const mean = means[n]?.[k] ?? null;
    const note = notes[n]?.[k] ?? "";
    if (value === null) {
      score.replaceChildren(`${metric.name} on this image: ${mean === null && note ? `failed (${note})` : "no score"}`);
      delete score.dataset.value;
    } else {
      score.replaceChildren(
        `${metric.name} on this image: `,
        h("span", "xw-score-value", { "data-testid": "xw-score-value" }, formatValue(value)),
        ` (${metric.higherIsBetter ? "higher" : "lower"} is better; mean ${mean === null ? "\u2013" : formatValue(mean)}, rank ${formatRank(ranks[n]?.[k] ?? null)} of ${N()})`,
      );
      score.dataset.value = String(value);
    }
  }

  function syncImagePicker(): void {
    imageSelect.replaceChildren(
      ...columns.map((c, m) =>
        h("option", null, { value: m }, c.label ? `${c.caption} \u00b7 ${c.label} (${formatProbability(c.probability)})` : c.caption),
      ),
    );
    imageSelect.value = String(currentImage());
    imageControl.hidden = M() <= 1;
  }

  // ---------------------------------------------------------------- trait -> view
  function loadText(): void {
    showText(title, model.get("title"));
    showText(subtitle, model.get("subtitle"));
  }

  function loadTable(): void {
    methods = readMethodEntries(model.get("methods"));
    metrics = readMetricEntries(model.get("metrics"));
    means = readTable(model.get("means"), N(), K());
    stds = readTable(model.get("stds"), N(), K());
    counts = readTable(model.get("counts"), N(), K());
    notes = readNotes(model.get("notes"), N(), K());
    ranks = rankMatrix(means, metrics.map((m) => m.higherIsBetter));
    rankMeans = meanRanks(ranks);
    columns = readImageColumns(model.get("columns"));
    loadScores();
    checkShape();
  }

  function loadScores(): void {
    scores = readOrReport(setError, "scores", () => readScores(model.get("scores")));
  }

  function loadMaps(): void {
    maps = readOrReport(setError, "maps", () => readGridMaps(model.get("maps")));
    checkShape();
  }

  function checkShape(): void {
    const mismatch = gridMismatch(maps, N(), M());
    if (mismatch !== null) {
      setError("shape", mismatch);
    } else if (scores !== null && (scores.methods !== N() || scores.metrics !== K() || scores.images !== M())) {
      setError("shape", `scores hold ${scores.methods} x ${scores.metrics} x ${scores.images} values for ${N()} methods, ${K()} metrics and ${M()} images.`);
    } else {
      setError("shape", null);
    }
  }

  function loadImages(): void {
    const resized = (size: { width: number; height: number } | null): void => {
      imageSize = size ?? imageSize;
      sizeCanvas();
    };
    images.loadSameSize(model.get("images"), { count: M(), setError, root, sized: resized, decoded: draw });
  }

  function reloadTable(): void {
    loadTable();
    build();
    syncImagePicker();
  }

  const sync = bindDisplayControls(model, controls, cleanups);
  const handlers: Array<[string, () => void]> = [
    ["change:sort_by", syncSort],
    ["change:sort_order", syncSort],
    ["change:selected", syncSelection],
    ["change:image", () => { imageSelect.value = String(currentImage()); recolour(); }],
    ["change:opacity", () => { sync.opacity(); draw(); }],
    ["change:colormap", () => { sync.colormap(); recolour(); }],
    ["change:scale", () => { sync.scale(); recolour(); }],
    ["change:maps", () => { loadMaps(); recolour(); }],
    ["change:scores", () => { loadScores(); checkShape(); describe(); }],
    ["change:methods", reloadTable],
    ["change:metrics", reloadTable],
    ["change:means", reloadTable],
    ["change:stds", reloadTable],
    ["change:counts", reloadTable],
    ["change:notes", reloadTable],
    ["change:columns", reloadTable],
    ["change:issues", loadIssues],
    ["change:images", loadImages],
    ["change:title", loadText],
    ["change:subtitle", loadText],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadTable();
  loadMaps();
  loadText();
  loadIssues();
  sync.colormap();
  sync.scale();
  sync.opacity();
  syncImagePicker();
  build();
  loadImages();

  return teardown(el, cleanups, () => {
    disposed = true;
    images.dispose();
  });
}

export type { WidgetModel };
export default { render };
