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

import { colormapColor } from "./lib/colormaps";
import { bindDisplayControls, bindRadioGroup, checkRadio, controlSection, displayControls, opacitySection } from "./lib/controls";
import { h, listen, readOrReport, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatProbability, formatValue } from "./lib/format";
import { ImageList, checkImagePayload } from "./lib/image";
import { gridMismatch, readGridMaps, readImageColumns, type GridMaps, type ImageColumn } from "./lib/image_grid";
import { classKey, type ClassInfo } from "./lib/methods";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { level, type Display, type Range } from "./lib/normalise";
import { displayColormap, drawOverlay, paintColourBar, paintHeat, pixelRatio, readColormap, readScale } from "./lib/overlay";
import { cellAtRelative, crosshairAt, relativeIn, type Relative } from "./lib/pointer";
import { SHARED_SCALES, cellLimits, cellRanges, gridDisplays, isSharedScale, type SharedScale } from "./lib/scales";
import { clampOpacity, navigateGrid, readGridCell, type GridCell } from "./lib/selection";
import { COMPARE_GRID_CSS } from "./compare_grid.styles";

interface MethodRow {
  name: string;
  detail: string;
}

const DEFAULT_CELL = 160;
const SHARED_LABELS: Readonly<Record<SharedScale, string>> = { cell: "Per map", method: "Per method", global: "Global" };
const READOUT_HINT = "Hover over a map: the crosshair follows in every map, with each method's value below.";

function readMethodRows(value: unknown): MethodRow[] {
  if (!Array.isArray(value)) return [];
  return value.map((m: Partial<MethodRow> | null, i) => ({
    name: String(m?.name ?? `method ${i}`),
    detail: String(m?.detail ?? ""),
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
  const { root, header, title, error, setError } = widgetFrame("compare", COMPARE_GRID_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);

  const toolbar = h("div", "xw-toolbar");
  const uid = uniqueId("xw-cg");

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

  const controls = displayControls({ uid, colormapClass: "xw-select", scaleClass: "xw-select", scaleText: "Values" });
  toolbar.append(
    sharedControl,
    controlSection(controls.scaleLabel, controls.scale),
    controlSection(controls.colormapLabel, controls.colormap),
    opacitySection(controls, "toolbar"),
  );

  const scroll = h("div", "xw-scroll");
  const grid = h("div", "xw-grid", { role: "grid", "aria-label": "Saliency maps, methods by images", "data-testid": "xw-grid" });
  scroll.append(grid);
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "aria-live": "polite", "data-active": "false" });
  root.append(toolbar, scroll, readout, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let maps: GridMaps | null = null;
  let methods: MethodRow[] = [];
  let columns: ImageColumn[] = [];
  let targets: Array<Array<ClassInfo | null>> = [];
  const images = new ImageList();
  let imageSize = { width: 1, height: 1 };
  let cells: Cell[] = [];
  let rowHeads: HTMLDivElement[] = [];
  let colHeads: HTMLDivElement[] = [];
  let displays: Display[] = [];
  let ranges: Range[] = [];
  let limits: number[] = [];
  let limitsOf: GridMaps | null = null;
  let focusCell: GridCell = [0, 0];
  let hover: Relative | null = null;

  const N = (): number => methods.length;
  const M = (): number => columns.length;

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
    const dpr = pixelRatio();

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
    displays = gridDisplays(ranges, g.methods, g.images, currentShared(), readScale(model), limits);
    const colormap = readColormap(model);
    for (const cell of cells) {
      const k = cell.n * g.images + cell.m;
      const d = displays[k];
      if (!paintHeat(cell.heat, g.data, k, g.rows, g.cols, d, colormap)) continue;
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
      drawOverlay(ctx, cell.canvas, images.images[cell.m], ready ? cell.heat : null, alpha);
    }
  }

  /** Each row header's colour bar: its colour map and, when its maps share one, the range. */
  function updateRowScales(): void {
    const shared = currentShared();
    const colormap = readColormap(model);
    rowHeads.forEach((head, n) => {
      const ramp = head.querySelector<HTMLElement>(".xw-row-ramp");
      const ticks = head.querySelectorAll<HTMLElement>(".xw-row-ticks span");
      const d = displays[n * M()];
      if (ramp === null || ticks.length !== 3) return;
      paintColourBar(ramp, ticks[0], ticks[2], d ?? null, colormap);
      ticks[1].textContent = d?.signed ? "0" : "";
      if (d === undefined) return;
      head.dataset.signed = String(d.signed);
      if (shared === "cell") {
        ticks[0].textContent = d.signed ? "\u2212max" : "min";
        ticks[1].textContent = d.signed ? "0" : "per map";
        ticks[2].textContent = d.signed ? "+max" : "max";
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
        swatch.style.background = l < 0 ? "transparent" : colormapColor(displayColormap(d, readColormap(model)), l);
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
    checkRadio(sharedButtons, SHARED_SCALES.indexOf(currentShared()));
  }

  function chooseShared(value: SharedScale, focus: boolean): void {
    if (focus) sharedButtons[SHARED_SCALES.indexOf(value)]?.focus();
    if (value === model.get("shared_scale")) return;
    model.set("shared_scale", value);
    model.save_changes();
  }

  const sync = bindDisplayControls(model, controls, cleanups);

  cleanups.push(
    ...bindRadioGroup(sharedGroup, {
      selector: ".xw-segment",
      position: (button) => (isSharedScale(button.dataset.value) ? SHARED_SCALES.indexOf(button.dataset.value) : null),
      current: () => SHARED_SCALES.indexOf(currentShared()),
      count: () => SHARED_SCALES.length,
      choose: (position, focus) => chooseShared(SHARED_SCALES[position], focus),
    }),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadText(): void {
    showText(title, model.get("title"));
    const n = N();
    const m = M();
    subtitle.textContent = `${n} method${n === 1 ? "" : "s"} \u00d7 ${m} image${m === 1 ? "" : "s"}`;
  }

  function loadMaps(): void {
    maps = readOrReport(setError, "maps", () => readGridMaps(model.get("maps")));
    checkShape();
  }

  function loadLabels(): void {
    methods = readMethodRows(model.get("methods"));
    columns = readImageColumns(model.get("columns"));
    targets = readTargets(model.get("targets"));
    checkShape();
  }

  function checkShape(): void {
    setError("shape", gridMismatch(maps, N(), M()));
  }

  function loadImages(): void {
    const resized = (size: { width: number; height: number } | null): void => {
      if (size === null || (size.width === imageSize.width && size.height === imageSize.height)) return;
      imageSize = size;
      build();
    };
    images.loadSameSize(model.get("images"), { count: M(), setError, root, sized: resized, decoded: draw });
  }

  function rebuild(): void {
    clearHover();
    build();
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", syncSelection],
    ["change:opacity", () => { sync.opacity(); draw(); }],
    ["change:colormap", () => { sync.colormap(); recolour(); }],
    ["change:scale", () => { sync.scale(); recolour(); }],
    ["change:shared_scale", () => { syncShared(); recolour(); }],
    ["change:maps", () => { loadMaps(); rebuild(); }],
    ["change:methods", () => { loadLabels(); loadText(); rebuild(); }],
    ["change:columns", () => { loadLabels(); loadText(); rebuild(); }],
    ["change:targets", () => { loadLabels(); rebuild(); }],
    ["change:cell_size", rebuild],
    ["change:images", loadImages],
    ["change:title", loadText],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadLabels();
  loadMaps();
  loadText();
  sync.colormap();
  sync.scale();
  syncShared();
  sync.opacity();
  const first = Array.isArray(model.get("images")) ? (model.get("images") as unknown[])[0] : undefined;
  try {
    if (first !== undefined) imageSize = checkImagePayload(first);
  } catch {
    // loadImages reports it
  }
  build();
  clearHover();
  loadImages();

  return teardown(el, cleanups, () => {
    disposed = true;
    images.dispose();
  });
}

export type { WidgetModel };
export default { render };
