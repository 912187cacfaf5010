// SaliencyViewer: an image with the saliency map of a chosen method and class overlaid.
//
// Every map of the image (every class of every method) arrives once (`maps`, one float16
// or float32 buffer), so switching method and class, opacity, colour map and scale, and
// the hover read-out, are all client-side. UI changes set the trait and call
// save_changes(); trait changes from Python redraw.
//
// Traits: image {png, width, height} | maps {data, dtype, shape: [R, H, W]} |
// classes [{index, label, probability}] (R, one per row of maps) |
// methods [{name, detail, start, count}]: method m owns rows [start, start + count)
// (missing or empty: one method owning every row) | method_index (position in methods) |
// selected (position among the current method's classes) | opacity [0, 1] | colormap |
// scale "auto" | "minmax" | "signed" | title | method (fallback text of the method line) |
// points {} or {data, dtype, shape: [R, N, 2]}: per row, (x, y) image pixels drawn as a
// numbered path (FovEx's fixations; NaN: no point) | show_points (the "Fixations" checkbox).

import { decodeShaped } from "./lib/buffers";
import { DIVERGING_COLORMAP } from "./lib/colormaps";
import { colourBar } from "./lib/colourbar";
import { PositionPicker, bindDisplayControls, bindRadioGroup, checkRadio, classButton, controlSection, displayControls, opacitySection } from "./lib/controls";
import { box, h, listen, readOrReport, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatValue } from "./lib/format";
import { ImageSlot } from "./lib/image";
import { carrySelection, readClasses, readMethods, type ClassInfo, type MethodInfo } from "./lib/methods";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { absQuantile, displayFor, isSignedDisplay, level, mapRange, type Display } from "./lib/normalise";
import { drawOverlay, fitCanvas, paintColourBar, paintHeat, pixelRatio, readColormap, readScale } from "./lib/overlay";
import { describePath, drawPath, pathOf, readPoints, type Points } from "./lib/points";
import { bindHover, clearReadout as showHint, showReadout } from "./lib/readout";
import { clampOpacity, clampSelection } from "./lib/selection";
import { SALIENCY_VIEWER_CSS } from "./saliency_viewer.styles";

export type { ClassInfo, MethodInfo };

interface Maps {
  data: Float32Array | Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** Longest side of the drawn image in CSS pixels (the canvas keeps the image's aspect). */
const DISPLAY_SIZE = 320;

function readMaps(value: unknown): Maps {
  const decoded = decodeShaped(value, "maps", ["K", "H", "W"]);
  const [count, rows, cols] = decoded.shape;
  return { data: decoded.data, count, rows, cols };
}

/** A class picker's button with a bar under it as long as the class's probability. */
function probabilityButton(c: ClassInfo, position: number): HTMLButtonElement {
  const button = classButton(c, position);
  const track = h("span", "xw-class-track", { "aria-hidden": "true" });
  const bar = h("span", "xw-class-bar");
  bar.style.width = `${Math.max(0, Math.min(1, c.probability ?? 0)) * 100}%`;
  track.append(bar);
  button.append(track);
  return button;
}

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const { root, header, title, error, setError } = widgetFrame("saliency", SALIENCY_VIEWER_CSS);
  const methodList = h("div", "xw-method-list", { role: "radiogroup", "aria-label": "Method", "data-testid": "xw-methods" });
  const method = h("div", "xw-method", { "data-testid": "xw-method" });
  header.append(methodList, method);

  const stage = h("figure", "xw-stage");
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-canvas", role: "img", width: 1, height: 1 });
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "aria-live": "polite", "data-active": "false" });
  stage.append(canvas, readout);

  const panel = h("div", "xw-panel");
  // Labels are tied to their controls by id (unique per render).
  const uid = uniqueId("xw-sv");
  const controls = displayControls({ uid, colormapClass: "xw-colormap", scaleClass: "xw-colormap xw-scale", scaleText: "Scale" });

  const classPicker = new PositionPicker(model, cleanups, {
    trait: "selected", sectionClass: "xw-classes", listClass: "xw-class-list", selector: ".xw-class", label: "Class",
    testid: "xw-classes", current: () => selected(), count: () => currentMethod().count, make: probabilityButton,
  });

  // The colour bar of signed maps: a 0 tick in the middle, a note, a marker at the hovered value.
  const colorbarNote = h("div", "xw-note", { "data-testid": "xw-colorbar-note", hidden: true });
  const colorbar = colourBar("Map value", colorbarNote);
  colorbar.root.dataset.signed = "false";
  const marker = h("span", "xw-colorbar-marker", { "data-testid": "xw-colorbar-marker", hidden: true });
  colorbar.ramp.append(marker);
  const tickMid = h("span", "xw-colorbar-mid", { "data-testid": "xw-colorbar-mid", hidden: true }, "0");
  colorbar.min.after(tickMid);

  const pointsSection = h("div", "xw-control xw-points", { hidden: true });
  const pointsRow = h("div", "xw-points-row");
  const pointsToggle = h("input", "xw-points-toggle", { id: `${uid}-points`, type: "checkbox", "data-testid": "xw-points" });
  const pointsLabel = h("label", "xw-heading", { for: `${uid}-points` }, "Fixations");
  pointsRow.append(pointsToggle, pointsLabel);
  const pointsNote = h("div", "xw-note", { "data-testid": "xw-points-note" });
  pointsSection.append(pointsRow, pointsNote);

  panel.append(
    classPicker.section,
    opacitySection(controls, "panel"),
    controlSection(controls.colormapLabel, controls.colormap),
    controlSection(controls.scaleLabel, controls.scale),
    colorbar.root,
    pointsSection,
  );
  root.append(box("xw-body", stage, panel), error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let classes: ClassInfo[] = [];
  let methods: MethodInfo[] = [];
  let maps: Maps | null = null;
  const image = new ImageSlot(setError);
  /** true while the UI sets method_index and selected together (one redraw, one save) */
  let switching = false;
  // The coloured map of the current row, cached by (row, colour map, scale, maps object).
  const heat = document.createElement("canvas");
  let heatKey = "";
  let heatMaps: Maps | null = null;
  let display: Display = { range: { min: 0, max: 0 }, signed: false };
  let points: Points | null = null;

  const ctx = canvas.getContext("2d");

  function methodIndex(): number {
    return clampSelection(model.get("method_index"), methods.length);
  }

  function currentMethod(): MethodInfo {
    return methods[methodIndex()] ?? { name: "", detail: "", start: 0, count: 0 };
  }

  function selected(): number {
    return clampSelection(model.get("selected"), currentMethod().count);
  }

  /** The row of `maps` and `classes` shown now. */
  function currentRow(): number {
    return currentMethod().start + selected();
  }

  /** Recolour the current row's map into the offscreen canvas when needed. */
  function updateHeat(): boolean {
    if (maps === null || maps.count === 0) return false;
    const k = Math.min(currentRow(), maps.count - 1);
    const scale = readScale(model);
    const cmap = readColormap(model);
    const key = `${k}|${cmap}|${scale}`;
    if (key === heatKey && heatMaps === maps) return true;
    const n = maps.rows * maps.cols;
    const range = mapRange(maps.data, k * n, n);
    const limit = isSignedDisplay(scale, range) ? absQuantile(maps.data, k * n, n) : undefined;
    display = displayFor(scale, range, limit);
    if (!paintHeat(heat, maps.data, k, maps.rows, maps.cols, display, cmap)) return false;
    heatKey = key;
    heatMaps = maps;
    return true;
  }

  function draw(): void {
    if (disposed || ctx === null) return;
    const drawn = updateHeat();
    drawOverlay(ctx, canvas, image.image, drawn ? heat : null, clampOpacity(model.get("opacity")));
    updateColorbar(drawn);
    const path = pathOf(points, currentRow());
    const showPath = model.get("show_points") !== false && path.vertices.length > 0;
    if (showPath) drawPath(ctx, canvas, image.size, path, pixelRatio());
    updatePointsControl(path.vertices.length, path.markers.length);
    root.dataset.points = String(showPath ? path.markers.length : 0);
    const c = classes[currentRow()];
    const m = methods.length > 1 ? `${currentMethod().name} ` : "";
    const fixations = showPath ? `; fixations ${describePath(path)}` : "";
    canvas.setAttribute(
      "aria-label",
      (c ? `Image with the ${m}saliency map for class ${c.label} overlaid` : "Image with its saliency map overlaid") + fixations,
    );
    root.dataset.signed = String(drawn && display.signed);
  }

  function updateColorbar(drawn: boolean): void {
    const signed = drawn && display.signed;
    paintColourBar(colorbar.ramp, colorbar.min, colorbar.max, drawn ? display : null, readColormap(model));
    tickMid.hidden = !signed;
    colorbar.root.dataset.signed = String(signed);
    colorbar.heading.textContent = signed ? "Map value (signed)" : "Map value";
    colorbarNote.hidden = !signed;
    colorbarNote.textContent = signed ? `Diverging ${DIVERGING_COLORMAP}: blue below 0, red above, transparent near 0; limits \u00b1 the 99th percentile of |value|.` : "";
  }

  // ---------------------------------------------------------------- points (fixation path)
  function updatePointsControl(count: number, markers: number): void {
    pointsSection.hidden = count === 0;
    pointsToggle.checked = model.get("show_points") !== false;
    pointsNote.textContent = count === 0 ? "" : `${count} fixation${count === 1 ? "" : "s"}, numbered in order`
      + (markers < count ? ` (${count - markers} at a place already visited)` : "");
  }

  function loadPoints(): void {
    points = readOrReport(setError, "points", () => readPoints(model.get("points")));
    if (points !== null && points.rows !== classes.length) {
      setError("points-rows", `points holds ${points.rows} rows but classes lists ${classes.length}.`);
    } else {
      setError("points-rows", null);
    }
  }

  cleanups.push(
    listen(pointsToggle, "change", () => {
      model.set("show_points", pointsToggle.checked);
      model.save_changes();
    }),
  );

  // ---------------------------------------------------------------- method picker
  const methodButtons: HTMLButtonElement[] = [];

  function buildMethods(): void {
    methodList.replaceChildren();
    methodButtons.length = 0;
    methods.forEach((m, i) => {
      const button = h("button", "xw-method-tab", {
        type: "button",
        role: "radio",
        "data-testid": `xw-method-${i}`,
        "data-position": i,
        title: m.detail,
      }, m.name);
      methodList.append(button);
      methodButtons.push(button);
    });
    methodList.hidden = methods.length <= 1;
    syncMethodButtons();
  }

  function syncMethodButtons(): void {
    checkRadio(methodButtons, methodIndex());
    loadText();
  }

  function chooseMethod(position: number, focus: boolean): void {
    const to = clampSelection(position, methods.length);
    if (focus) methodButtons[to]?.focus();
    const from = methodIndex();
    if (to === from && model.get("method_index") === to) return;
    const keep = carrySelection(classes, methods[from], selected(), methods[to]);
    switching = true;
    try {
      model.set("method_index", to);
      model.set("selected", keep);
    } finally {
      switching = false;
    }
    onMethodChange();
    model.save_changes();
  }

  function onMethodChange(): void {
    syncMethodButtons();
    buildClassButtons();
    draw();
    clearReadout();
  }

  cleanups.push(
    ...bindRadioGroup(methodList, {
      selector: ".xw-method-tab",
      position: (button) => Number(button.dataset.position),
      current: methodIndex,
      count: () => methods.length,
      choose: chooseMethod,
    }),
  );

  // ---------------------------------------------------------------- class picker
  /** Read `classes` and `methods` (the row blocks of each method). */
  function loadClasses(): void {
    classes = readClasses(model.get("classes"));
    try {
      methods = readMethods(model.get("methods"), classes.length, String(model.get("method") ?? ""));
      setError("methods", null);
    } catch (e) {
      methods = readMethods([], classes.length, String(model.get("method") ?? ""));
      setError("methods", `Cannot read the methods: ${(e as Error).message}.`);
    }
    buildMethods();
    buildClassButtons();
    checkCounts();
  }

  function buildClassButtons(): void {
    const { start, count } = currentMethod();
    classPicker.fill(classes.slice(start, start + count));
  }

  function checkCounts(): void {
    if (maps !== null && maps.count !== classes.length) {
      setError("counts", `maps holds ${maps.count} classes but classes lists ${classes.length}.`);
    } else {
      setError("counts", null);
    }
  }

  // ---------------------------------------------------------------- controls
  const sync = bindDisplayControls(model, controls, cleanups);

  // ---------------------------------------------------------------- hover read-out
  const READOUT_HINT = "Hover over the image to read the map value.";

  function clearReadout(): void {
    showHint(readout, READOUT_HINT);
    marker.hidden = true;
    delete readout.dataset.row;
    delete readout.dataset.col;
  }

  cleanups.push(
    ...bindHover(
      canvas,
      () => (maps === null || maps.count === 0 ? null : maps),
      (cell) => {
        if (maps === null) return;
        const k = Math.min(currentRow(), maps.count - 1);
        const value = maps.data[k * maps.rows * maps.cols + cell.index];
        const c = classes[k];
        const prefix = methods.length > 1 ? `${currentMethod().name} \u00b7 ` : "";
        showReadout(readout, `${prefix}${c ? c.label : `map ${k}`}: ${formatValue(value)} at (x ${cell.col}, y ${cell.row})`, value);
        readout.dataset.row = String(cell.row);
        readout.dataset.col = String(cell.col);
        const l = level(value, display.range);
        marker.hidden = l < 0;
        marker.style.left = `${(Math.max(0, l) / 255) * 100}%`;
      },
      clearReadout,
    ),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadMaps(): void {
    maps = readOrReport(setError, "maps", () => readMaps(model.get("maps")));
    heatKey = "";
    checkCounts();
  }

  function loadImage(): void {
    const loading = image.load(model.get("image"), (ok) => {
      if (ok) draw();
      root.dataset.ready = "true";
    });
    if (!loading) return;
    fitCanvas(canvas, image.size, DISPLAY_SIZE);
    draw();
  }

  function loadText(): void {
    showText(title, model.get("title"));
    const m = methods[methodIndex()];
    showText(method, m !== undefined && m.detail !== "" ? m.detail : model.get("method"));
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", () => { if (switching) return; classPicker.check(); draw(); clearReadout(); }],
    ["change:method_index", () => { if (switching) return; onMethodChange(); }],
    ["change:opacity", () => { sync.opacity(); draw(); }],
    ["change:colormap", () => { sync.colormap(); draw(); }],
    ["change:scale", () => { sync.scale(); draw(); }],
    ["change:classes", () => { loadClasses(); loadPoints(); draw(); }],
    ["change:points", () => { loadPoints(); draw(); }],
    ["change:show_points", draw],
    ["change:methods", () => { loadClasses(); draw(); clearReadout(); }],
    ["change:maps", () => { loadMaps(); draw(); clearReadout(); }],
    ["change:image", loadImage],
    ["change:title", loadText],
    ["change:method", loadText],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadMaps();
  loadClasses();
  loadPoints();
  loadText();
  sync.opacity();
  sync.colormap();
  sync.scale();
  clearReadout();
  loadImage();

  return teardown(el, cleanups, () => {
    disposed = true;
    image.dispose();
  });
}

export type { WidgetModel };
export default { render };
