// CompareGrid: N saliency methods (rows) x M images (columns) as small overlays.
//
// Every map arrives once (`maps`, one float16 or float32 buffer [N, M, H, W]); colour
// scale sharing, value scale, colour map, opacity, the synchronised crosshair with its
// read-out and the emphasised cell are all client-side. UI changes set the trait and call
// save_changes(); trait changes from Python redraw.
//
// Traits: images [{png, width, height}] (M) | maps {data, dtype, shape: [N, M, H, W]} |
// methods [{name, detail}] (N) | columns [{caption, label, probability}] (M: the image's
// caption and predicted class) | targets [[{index, label, probability}]] (N x M: the class
// each map explains) | shared_scale "cell" | "method" | "global" | scale "auto" | "minmax" |
// "signed" | colormap | opacity [0, 1] | selected [] or [method, image] | cell_size (CSS px,
// longest side of a cell) | title.

import { decodeArray, type ArrayPayload } from "./lib/buffers";
import {
  COLORMAP_NAMES,
  DEFAULT_COLORMAP,
  DIVERGING_COLORMAP,
  colormapColor,
  colormapGradient,
  getColormap,
  isColormap,
} from "./lib/colormaps";
import { h, listen } from "./lib/dom";
import { formatProbability, formatValue } from "./lib/format";
import { checkImagePayload, decodeImage, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import { classKey, type ClassInfo } from "./lib/methods";
import type { RenderProps, WidgetModel } from "./lib/model";
import { colourise, isScale, level, type Display, type Range, type Scale } from "./lib/normalise";
import { cellAtRelative, crosshairAt, relativeIn, type Relative } from "./lib/pointer";
import { SHARED_SCALES, cellLimits, cellRanges, gridDisplays, isSharedScale, type SharedScale } from "./lib/scales";
import { clampOpacity, navigate, navigateGrid, readGridCell, type GridCell } from "./lib/selection";
import { COMPARE_GRID_CSS } from "./compare_grid.styles";

interface Column {
  caption: string;
  label: string;
  probability: number | null;
}

interface MethodRow {
  name: string;
  detail: string;
}

interface GridMaps {
  data: Float32Array | Uint8Array;
  methods: number;
  images: number;
  rows: number;
  cols: number;
}

const DEFAULT_CELL = 160;
const SHARED_LABELS: Readonly<Record<SharedScale, string>> = { cell: "Per map", method: "Per method", global: "Global" };
const SCALE_LABELS: ReadonlyArray<[Scale, string]> = [
  ["auto", "Auto (signed when \u00b1)"],
  ["minmax", "Min\u2013max"],
  ["signed", "Signed, centred on 0"],
];
const READOUT_HINT = "Hover over a map: the crosshair follows in every map, with each method's value below.";

function readGridMaps(value: unknown): GridMaps {
  const decoded = decodeArray(value as ArrayPayload);
  if (decoded.shape.length !== 4) {
    throw new RangeError(`maps: expected shape [N, M, H, W]; got [${decoded.shape.join(", ")}]`);
  }
  const [methods, images, rows, cols] = decoded.shape;
  return { data: decoded.data, methods, images, rows, cols };
}

function readMethodRows(value: unknown): MethodRow[] {
  if (!Array.isArray(value)) return [];
  return value.map((m: Partial<MethodRow> | null, i) => ({
    name: String(m?.name ?? `method ${i}`),
    detail: String(m?.detail ?? ""),
  }));
}

function readColumns(value: unknown): Column[] {
  if (!Array.isArray(value)) return [];
  return value.map((c: Partial<Column> | null, i) => ({
    caption: String(c?.caption ?? `Image ${i}`),
    label: String(c?.label ?? ""),
    probability: typeof c?.probability === "number" ? c.probability : null,
  }));
}

function readTargets(value: unknown): Array<Array<ClassInfo | null>> {
  if (!Array.isArray(value)) return [];
  return value.map((row: unknown) =>
    Array.isArray(row)
      ? row.map((c: Partial<ClassInfo> | null) =>
          c && typeof c === "object"
            ? {
                index: Number(c.index ?? -1),
                label: String(c.label ?? ""),
                probability: typeof c.probability === "number" ? c.probability : null,
              }
            : null,
        )
      : [],
  );
}

interface Cell {
  n: number;
  m: number;
  el: HTMLDivElement;
  canvas: HTMLCanvasElement;
  crossV: HTMLDivElement;
  crossH: HTMLDivElement;
  value: HTMLSpanElement;
  tag: HTMLSpanElement;
  heat: HTMLCanvasElement;
}

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const root = h("div", "xw-root xw-compare", { "data-testid": "xw-compare", "data-ready": "false" });
  const style = h("style");
  style.textContent = COMPARE_GRID_CSS;

  const header = h("header", "xw-header");
  const title = h("div", "xw-title", { "data-testid": "xw-title" });
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(title, subtitle);

  const toolbar = h("div", "xw-toolbar");
  const uid = `xw-cg-${Math.random().toString(36).slice(2, 10)}`;

  const sharedControl = h("div", "xw-control");
  const sharedHeading = h("div", "xw-heading", { id: `${uid}-shared` }, "Colour scale");
  const sharedGroup = h("div", "xw-segmented", {
    role: "radiogroup", "aria-labelledby": `${uid}-shared`, "data-testid": "xw-shared",
  });
  const sharedButtons = SHARED_SCALES.map((value) =>
    h("button", "xw-segment", { type: "button", role: "radio", "data-value": value, "data-testid": `xw-shared-${value}` }, SHARED_LABELS[value]),
  );
  sharedGroup.append(...sharedButtons);
  sharedControl.append(sharedHeading, sharedGroup);

  const scaleControl = h("div", "xw-control");
  const scaleLabel = h("label", "xw-heading", { for: `${uid}-scale` }, "Values");
  const scaleSelect = h("select", "xw-select", { id: `${uid}-scale`, "data-testid": "xw-scale" });
  for (const [value, text] of SCALE_LABELS) scaleSelect.append(h("option", null, { value }, text));
  scaleControl.append(scaleLabel, scaleSelect);

  const colormapControl = h("div", "xw-control");
  const colormapLabel = h("label", "xw-heading", { for: `${uid}-colormap` }, "Colour map");
  const colormap = h("select", "xw-select", { id: `${uid}-colormap`, "data-testid": "xw-colormap" });
  for (const name of COLORMAP_NAMES) colormap.append(h("option", null, { value: name }, name));
  colormapControl.append(colormapLabel, colormap);

  const opacityControl = h("div", "xw-control");
  const opacityLabel = h("label", "xw-heading", { for: `${uid}-opacity` }, "Opacity");
  const opacityRow = h("div", "xw-opacity-row");
  const opacity = h("input", "xw-opacity", {
    id: `${uid}-opacity`, type: "range", min: 0, max: 1, step: 0.01, "data-testid": "xw-opacity",
  });
  const opacityValue = h("output", "xw-opacity-value", { "data-testid": "xw-opacity-value" });
  opacityValue.htmlFor.add(opacity.id);
  opacityRow.append(opacity, opacityValue);
  opacityControl.append(opacityLabel, opacityRow);

  toolbar.append(sharedControl, scaleControl, colormapControl, opacityControl);

  const scroll = h("div", "xw-scroll");
  const grid = h("div", "xw-grid", { role: "grid", "aria-label": "Saliency maps, methods by images", "data-testid": "xw-grid" });
  scroll.append(grid);
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "aria-live": "polite", "data-active": "false" });
  const error = h("div", "xw-error", { role: "alert", "data-testid": "xw-error", hidden: true });
  root.append(style, header, toolbar, scroll, readout, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let maps: GridMaps | null = null;
  let methods: MethodRow[] = [];
  let columns: Column[] = [];
  let targets: Array<Array<ClassInfo | null>> = [];
  let images: Array<Drawable | null> = [];
  let imageSize = { width: 1, height: 1 };
  let imageToken = 0;
  let cells: Cell[] = [];
  let rowHeads: HTMLDivElement[] = [];
  let colHeads: HTMLDivElement[] = [];
  let displays: Display[] = [];
  let ranges: Range[] = [];
  let limits: number[] = [];
  let limitsOf: GridMaps | null = null;
  let focusCell: GridCell = [0, 0];
  let hover: Relative | null = null;
  const errors = new Map<string, string>();

  function setError(key: string, message: string | null): void {
    if (message === null) errors.delete(key);
    else errors.set(key, message);
    error.hidden = errors.size === 0;
    error.textContent = [...errors.values()].join(" ");
  }

  const N = (): number => methods.length;
  const M = (): number => columns.length;

  function currentColormap(): string {
    const name = model.get("colormap");
    return isColormap(name) ? name : DEFAULT_COLORMAP;
  }

  function currentScale(): Scale {
    const value = model.get("scale");
    return isScale(value) ? value : "auto";
  }

  function currentShared(): SharedScale {
    const value = model.get("shared_scale");
    return isSharedScale(value) ? value : "cell";
  }

  function selectedCell(): GridCell | null {
    return readGridCell(model.get("selected"), N(), M());
  }

  function cellSize(): number {
    const v = Number(model.get("cell_size"));
    return Number.isFinite(v) && v >= 32 ? Math.min(1024, Math.round(v)) : DEFAULT_CELL;
  }

  /** Maps usable for drawing: their shape agrees with methods and columns. */
  function usable(): GridMaps | null {
    return maps !== null && maps.methods === N() && maps.images === M() && maps.rows > 0 && maps.cols > 0 ? maps : null;
  }

  function lutFor(d: Display): string {
    return d.signed ? DIVERGING_COLORMAP : currentColormap();
  }

  // ---------------------------------------------------------------- grid structure
  function cssSize(): { w: number; h: number } {
    const s = cellSize();
    const { width, height } = imageSize;
    const k = s / Math.max(width, height);
    return { w: Math.max(1, Math.round(width * k)), h: Math.max(1, Math.round(height * k)) };
  }

  function build(): void {
    grid.replaceChildren();
    cells = [];
    rowHeads = [];
    colHeads = [];
    const { w, h: hgt } = cssSize();
    grid.style.gridTemplateColumns = `minmax(120px, max-content) repeat(${M()}, ${w}px)`;
    const dpr = Math.min(2, Math.max(1, globalThis.devicePixelRatio || 1));

    const headRow = h("div", null, { role: "row", style: "display: contents" });
    const corner = h("div", "xw-corner", { role: "columnheader" });
    headRow.append(corner);
    // When every method explains the same class for an image, the column header says which
    // (if it is not the predicted class); otherwise each cell that differs says so.
    const shared = columns.map((_, m) => {
      const keys = new Set(methods.map((_, n) => {
        const t = targets[n]?.[m];
        return t ? classKey(t) : "";
      }));
      return keys.size === 1 ? (targets[0]?.[m] ?? null) : null;
    });
    columns.forEach((c, m) => {
      const head = h("div", "xw-colhead", { role: "columnheader", "data-testid": `xw-col-${m}` });
      const caption = h("div", "xw-col-caption", { title: c.caption }, c.caption);
      const labelText = c.label === "" ? "" : `${c.label} \u00b7 ${formatProbability(c.probability)}`;
      const label = h("div", "xw-col-label", { title: `Predicted: ${labelText}` }, labelText);
      const common = shared[m];
      const target = h("div", "xw-col-target", { "data-testid": `xw-col-target-${m}` }, common ? `map of ${common.label}` : "");
      target.hidden = common === null || common.label === c.label;
      head.append(caption, label, target);
      headRow.append(head);
      colHeads.push(head);
    });
    grid.append(headRow);

    methods.forEach((method, n) => {
      const row = h("div", null, { role: "row", style: "display: contents" });
      const head = h("div", "xw-rowhead", { role: "rowheader", "data-testid": `xw-row-${n}` });
      const name = h("div", "xw-row-name", {}, method.name);
      const detail = h("div", "xw-row-detail", {}, method.detail);
      detail.hidden = method.detail === "";
      const ramp = h("div", "xw-row-ramp", { "aria-hidden": "true", "data-testid": `xw-row-ramp-${n}` });
      const ticks = h("div", "xw-row-ticks", { "data-testid": `xw-row-ticks-${n}` });
      ticks.append(h("span"), h("span"), h("span"));
      head.append(name, detail, ramp, ticks);
      row.append(head);
      rowHeads.push(head);
      for (let m = 0; m < M(); m++) {
        const c = columns[m];
        const t = targets[n]?.[m] ?? null;
        const cellEl = h("div", "xw-cell", {
          role: "gridcell",
          tabindex: -1,
          "aria-selected": "false",
          "data-testid": `xw-cell-${n}-${m}`,
          "data-method": n,
          "data-image": m,
          "aria-label": `${method.name}, ${c.caption}${t ? `, class ${t.label}` : ""}`,
        });
        cellEl.style.width = `${w}px`;
        cellEl.style.height = `${hgt}px`;
        const canvas = h("canvas", "xw-cell-canvas", { width: Math.round(w * dpr), height: Math.round(hgt * dpr) });
        canvas.style.width = `${w}px`;
        canvas.style.height = `${hgt}px`;
        const crossV = h("div", "xw-cross xw-cross-v", { hidden: true, "data-testid": "xw-cross-v" });
        const crossH = h("div", "xw-cross xw-cross-h", { hidden: true, "data-testid": "xw-cross-h" });
        const value = h("span", "xw-cell-value", { hidden: true, "data-testid": "xw-cell-value" });
        // The class is shown on the cell only when the column header does not already say it.
        const tag = h("span", "xw-cell-tag", { "data-testid": "xw-cell-tag" }, t ? t.label : "");
        tag.hidden = t === null || shared[m] !== null || t.label === c.label;
        cellEl.append(canvas, crossV, crossH, value, tag);
        row.append(cellEl);
        cells.push({ n, m, el: cellEl, canvas, crossV, crossH, value, tag, heat: document.createElement("canvas") });
      }
      grid.append(row);
    });
    syncSelection();
    recolour();
  }

  function cellAtIndex(n: number, m: number): Cell | undefined {
    return cells[n * M() + m];
  }

  // ---------------------------------------------------------------- drawing
  /** Recompute every cell's display and coloured map, then draw. */
  function recolour(): void {
    const g = usable();
    if (g === null) {
      displays = [];
      draw();
      updateRowScales();
      return;
    }
    const size = g.rows * g.cols;
    if (limitsOf !== g) {
      // Data statistics change only with the maps: computed once, reused by every control.
      ranges = cellRanges(g.data, g.methods, g.images, size);
      limits = cellLimits(g.data, g.methods, g.images, size);
      limitsOf = g;
    }
    displays = gridDisplays(ranges, g.methods, g.images, currentShared(), currentScale(), limits);
    for (const cell of cells) {
      const k = cell.n * g.images + cell.m;
      const d = displays[k];
      cell.heat.width = g.cols;
      cell.heat.height = g.rows;
      const hctx = cell.heat.getContext("2d");
      if (hctx === null) continue;
      const pixels = hctx.createImageData(g.cols, g.rows);
      colourise(g.data, k * size, size, d.range, getColormap(lutFor(d)), pixels.data, d.signed);
      hctx.putImageData(pixels, 0, 0);
      cell.el.dataset.min = String(d.range.min);
      cell.el.dataset.max = String(d.range.max);
      cell.el.dataset.signed = String(d.signed);
    }
    draw();
    updateRowScales();
    if (hover !== null) showHover(hover, null);
  }

  function draw(): void {
    if (disposed) return;
    const alpha = clampOpacity(model.get("opacity"));
    const ready = usable() !== null && displays.length === cells.length;
    for (const cell of cells) {
      const ctx = cell.canvas.getContext("2d");
      if (ctx === null) continue;
      ctx.clearRect(0, 0, cell.canvas.width, cell.canvas.height);
      const img = images[cell.m];
      ctx.globalAlpha = 1;
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      if (img) ctx.drawImage(img, 0, 0, cell.canvas.width, cell.canvas.height);
      if (ready) {
        ctx.globalAlpha = alpha;
        ctx.drawImage(cell.heat, 0, 0, cell.canvas.width, cell.canvas.height);
        ctx.globalAlpha = 1;
      }
    }
  }

  /** Each row header's colour bar: its colour map and, when its maps share one, the range. */
  function updateRowScales(): void {
    const shared = currentShared();
    rowHeads.forEach((head, n) => {
      const ramp = head.querySelector<HTMLElement>(".xw-row-ramp");
      const ticks = head.querySelectorAll<HTMLElement>(".xw-row-ticks span");
      const d = displays[n * M()];
      if (ramp === null || ticks.length !== 3) return;
      if (d === undefined) {
        ramp.style.background = colormapGradient(currentColormap());
        ticks.forEach((t) => (t.textContent = ""));
        return;
      }
      ramp.style.background = colormapGradient(lutFor(d));
      head.dataset.signed = String(d.signed);
      if (shared === "cell") {
        ticks[0].textContent = d.signed ? "\u2212max" : "min";
        ticks[1].textContent = d.signed ? "0" : "per map";
        ticks[2].textContent = d.signed ? "+max" : "max";
      } else {
        ticks[0].textContent = formatValue(d.range.min);
        ticks[1].textContent = d.signed ? "0" : "";
        ticks[2].textContent = formatValue(d.range.max);
      }
    });
  }

  // ---------------------------------------------------------------- hover: crosshair and read-out
  function clearHover(): void {
    hover = null;
    for (const cell of cells) {
      cell.crossV.hidden = true;
      cell.crossH.hidden = true;
      cell.value.hidden = true;
      delete cell.el.dataset.crossX;
      delete cell.el.dataset.crossY;
      delete cell.el.dataset.value;
    }
    readout.replaceChildren(READOUT_HINT);
    readout.dataset.active = "false";
    delete readout.dataset.image;
    delete readout.dataset.row;
    delete readout.dataset.col;
  }

  /** Show the crosshair at relative position `p` in every cell; `from` is the hovered cell. */
  function showHover(p: Relative, from: Cell | null): void {
    const g = usable();
    if (g === null) return;
    const at = cellAtRelative(p, g.rows, g.cols);
    if (at === null) return clearHover();
    hover = p;
    const image = from?.m ?? Number(readout.dataset.image ?? 0);
    const size = g.rows * g.cols;
    const { w, h: hgt } = cssSize();
    for (const cell of cells) {
      const pos = crosshairAt(p, w, hgt, g.rows, g.cols);
      if (pos === null) continue;
      cell.crossV.hidden = false;
      cell.crossH.hidden = false;
      cell.crossV.style.transform = `translateX(${pos.x - 0.5}px)`;
      cell.crossH.style.transform = `translateY(${pos.y - 0.5}px)`;
      cell.el.dataset.crossX = String(pos.x);
      cell.el.dataset.crossY = String(pos.y);
      const v = g.data[(cell.n * g.images + cell.m) * size + at.index];
      cell.el.dataset.value = String(v);
      cell.value.hidden = false;
      cell.value.textContent = formatValue(v);
    }
    // The read-out: every method's value at this point of the hovered image.
    const where = h("span", "xw-readout-where", {}, `${columns[image]?.caption ?? `Image ${image}`} at (x ${at.col}, y ${at.row}):`);
    const items = methods.map((method, n) => {
      const k = n * g.images + image;
      const v = g.data[k * size + at.index];
      const d = displays[k];
      const item = h("span", "xw-readout-item", { "data-testid": `xw-readout-${n}`, "data-value": String(v) });
      const swatch = h("span", "xw-swatch", { "aria-hidden": "true" });
      if (d !== undefined) {
        const l = level(v, d.range);
        swatch.style.background = l < 0 ? "transparent" : colormapColor(lutFor(d), l);
      }
      item.append(swatch, h("span", null, {}, `${method.name} ${formatValue(v)}`));
      return item;
    });
    readout.replaceChildren(where, ...items);
    readout.dataset.active = "true";
    readout.dataset.image = String(image);
    readout.dataset.row = String(at.row);
    readout.dataset.col = String(at.col);
  }

  cleanups.push(
    listen(grid, "pointermove", (event) => {
      const el = (event.target as Element).closest<HTMLElement>(".xw-cell");
      if (el === null || !grid.contains(el)) return clearHover();
      const cell = cellAtIndex(Number(el.dataset.method), Number(el.dataset.image));
      if (cell === undefined) return;
      const p = relativeIn(event.clientX, event.clientY, cell.canvas.getBoundingClientRect());
      if (p === null) return clearHover();
      showHover(p, cell);
    }),
    listen(grid, "pointerleave", clearHover),
  );

  // ---------------------------------------------------------------- emphasis (click, keyboard)
  function syncSelection(): void {
    const s = selectedCell();
    grid.dataset.emphasis = String(s !== null);
    for (const cell of cells) {
      const on = s !== null && cell.n === s[0] && cell.m === s[1];
      cell.el.setAttribute("aria-selected", String(on));
    }
    rowHeads.forEach((head, n) => (head.dataset.emphasis = String(s !== null && s[0] === n)));
    colHeads.forEach((head, m) => (head.dataset.emphasis = String(s !== null && s[1] === m)));
    if (s !== null) focusCell = s;
    syncFocus();
  }

  /** One cell is in the tab order (roving tabindex). */
  function syncFocus(): void {
    const [fn, fm] = focusCell;
    const target = cellAtIndex(Math.min(fn, N() - 1), Math.min(fm, M() - 1)) ?? cells[0];
    for (const cell of cells) cell.el.tabIndex = cell === target ? 0 : -1;
  }

  function toggle(n: number, m: number): void {
    const s = selectedCell();
    const next = s !== null && s[0] === n && s[1] === m ? [] : [n, m];
    focusCell = [n, m];
    model.set("selected", next);
    model.save_changes();
  }

  cleanups.push(
    listen(grid, "click", (event) => {
      const el = (event.target as Element).closest<HTMLElement>(".xw-cell");
      if (el === null || !grid.contains(el)) return;
      toggle(Number(el.dataset.method), Number(el.dataset.image));
    }),
    listen(grid, "keydown", (event) => {
      const el = (event.target as Element).closest<HTMLElement>(".xw-cell");
      if (el === null) return;
      const here: GridCell = [Number(el.dataset.method), Number(el.dataset.image)];
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle(here[0], here[1]);
        return;
      }
      if (event.key === "Escape" && selectedCell() !== null) {
        model.set("selected", []);
        model.save_changes();
        return;
      }
      const next = navigateGrid(here, event.key, N(), M());
      if (next === null) return;
      event.preventDefault();
      focusCell = next;
      syncFocus();
      cellAtIndex(next[0], next[1])?.el.focus();
    }),
  );

  // ---------------------------------------------------------------- controls
  function syncShared(): void {
    const s = currentShared();
    for (const b of sharedButtons) {
      const on = b.dataset.value === s;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    }
  }

  function chooseShared(value: SharedScale, focus: boolean): void {
    if (focus) sharedButtons[SHARED_SCALES.indexOf(value)]?.focus();
    if (value === model.get("shared_scale")) return;
    model.set("shared_scale", value);
    model.save_changes();
  }

  function syncOpacity(): void {
    const v = clampOpacity(model.get("opacity"));
    if (document.activeElement !== opacity || Number(opacity.value) !== v) opacity.value = String(v);
    opacityValue.textContent = `${Math.round(v * 100)}%`;
  }

  cleanups.push(
    listen(sharedGroup, "click", (event) => {
      const b = (event.target as Element).closest<HTMLButtonElement>(".xw-segment");
      if (b === null || !isSharedScale(b.dataset.value)) return;
      chooseShared(b.dataset.value, false);
    }),
    listen(sharedGroup, "keydown", (event) => {
      const next = navigate(SHARED_SCALES.indexOf(currentShared()), event.key, SHARED_SCALES.length);
      if (next === null) return;
      event.preventDefault();
      chooseShared(SHARED_SCALES[next], true);
    }),
    listen(scaleSelect, "change", () => {
      if (!isScale(scaleSelect.value)) return;
      model.set("scale", scaleSelect.value);
      model.save_changes();
    }),
    listen(colormap, "change", () => {
      if (!isColormap(colormap.value)) return;
      model.set("colormap", colormap.value);
      model.save_changes();
    }),
    listen(opacity, "input", () => {
      model.set("opacity", clampOpacity(Number(opacity.value)));
      model.save_changes();
    }),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadText(): void {
    title.textContent = String(model.get("title") ?? "");
    title.hidden = title.textContent === "";
    const n = N();
    const m = M();
    subtitle.textContent = `${n} method${n === 1 ? "" : "s"} \u00d7 ${m} image${m === 1 ? "" : "s"}`;
  }

  function loadMaps(): void {
    try {
      maps = readGridMaps(model.get("maps"));
      setError("maps", null);
    } catch (e) {
      maps = null;
      setError("maps", `Cannot read the maps: ${(e as Error).message}.`);
    }
    checkShape();
  }

  function loadLabels(): void {
    methods = readMethodRows(model.get("methods"));
    columns = readColumns(model.get("columns"));
    targets = readTargets(model.get("targets"));
    checkShape();
  }

  function checkShape(): void {
    if (maps !== null && (maps.methods !== N() || maps.images !== M())) {
      setError(
        "shape",
        `maps hold ${maps.methods} methods x ${maps.images} images but methods lists ${N()} and columns ${M()}.`,
      );
    } else {
      setError("shape", null);
    }
  }

  function loadImages(): void {
    const token = ++imageToken;
    const payloads = Array.isArray(model.get("images")) ? (model.get("images") as unknown[]) : [];
    let size: { width: number; height: number } | null = null;
    try {
      payloads.forEach((p, i) => {
        const s = checkImagePayload(p);
        if (size === null) size = s;
        else if (s.width !== size.width || s.height !== size.height) {
          throw new RangeError(`image ${i} is ${s.width} x ${s.height}; image 0 is ${size.width} x ${size.height}`);
        }
      });
      if (payloads.length !== M()) throw new RangeError(`${payloads.length} images for ${M()} columns`);
      setError("image", null);
    } catch (e) {
      setError("image", `Cannot read the images: ${(e as Error).message}.`);
      root.dataset.ready = "true";
      return;
    }
    const sized = size as { width: number; height: number } | null;
    if (sized !== null && (sized.width !== imageSize.width || sized.height !== imageSize.height)) {
      imageSize = sized;
      build();
    }
    Promise.allSettled(payloads.map((p) => decodeImage(p as ImagePayload))).then((results) => {
      const decoded = results.map((r) => (r.status === "fulfilled" ? r.value : null));
      if (disposed || token !== imageToken) {
        decoded.forEach((d) => releaseImage(d));
        return;
      }
      images.forEach((d) => releaseImage(d));
      images = decoded;
      const failed = results.findIndex((r) => r.status === "rejected");
      if (failed >= 0) {
        const reason = (results[failed] as PromiseRejectedResult).reason as Error;
        setError("image", `Cannot decode image ${failed}: ${reason?.message ?? String(reason)}.`);
      }
      draw();
      root.dataset.ready = "true";
    });
  }

  function rebuild(): void {
    clearHover();
    build();
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", syncSelection],
    ["change:opacity", () => { syncOpacity(); draw(); }],
    ["change:colormap", () => { colormap.value = currentColormap(); recolour(); }],
    ["change:scale", () => { scaleSelect.value = currentScale(); recolour(); }],
    ["change:shared_scale", () => { syncShared(); recolour(); }],
    ["change:maps", () => { loadMaps(); rebuild(); }],
    ["change:methods", () => { loadLabels(); loadText(); rebuild(); }],
    ["change:columns", () => { loadLabels(); loadText(); rebuild(); }],
    ["change:targets", () => { loadLabels(); rebuild(); }],
    ["change:cell_size", rebuild],
    ["change:images", loadImages],
    ["change:title", loadText],
  ];
  for (const [event, handler] of handlers) {
    model.on(event, handler);
    cleanups.push(() => model.off(event, handler));
  }

  loadLabels();
  loadMaps();
  loadText();
  colormap.value = currentColormap();
  scaleSelect.value = currentScale();
  syncShared();
  syncOpacity();
  const first = Array.isArray(model.get("images")) ? (model.get("images") as unknown[])[0] : undefined;
  try {
    if (first !== undefined) imageSize = checkImagePayload(first);
  } catch {
    // loadImages reports it
  }
  build();
  clearHover();
  loadImages();

  return () => {
    disposed = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
    images.forEach((d) => releaseImage(d));
    images = [];
    el.replaceChildren();
  };
}

export type { WidgetModel };
export default { render };
