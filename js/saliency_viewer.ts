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

import { decodeArray, type ArrayPayload } from "./lib/buffers";
import { DIVERGING_COLORMAP } from "./lib/colormaps";
import { bindDisplayControls, bindRadioGroup, checkRadio, displayControls } from "./lib/controls";
import { h, listen, readOrReport, widgetFrame } from "./lib/dom";
import { classText, formatProbability, formatValue } from "./lib/format";
import { checkImagePayload, decodeAll, errorText, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import { carrySelection, readClasses, readMethods, type ClassInfo, type MethodInfo } from "./lib/methods";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { absQuantile, displayFor, isSignedDisplay, level, mapRange, type Display } from "./lib/normalise";
import { drawOverlay, paintColourBar, paintHeat, pixelRatio, readColormap, readScale } from "./lib/overlay";
import { cellAt } from "./lib/pointer";
import { describePath, drawPath, pathOf, readPoints, type Points } from "./lib/points";
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
  const decoded = decodeArray(value as ArrayPayload);
  if (decoded.shape.length !== 3) {
    throw new RangeError(`maps: expected shape [K, H, W]; got [${decoded.shape.join(", ")}]`);
  }
  const [count, rows, cols] = decoded.shape;
  return { data: decoded.data, count, rows, cols };
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
  const uid = `xw-sv-${Math.random().toString(36).slice(2, 10)}`;
  const controls = displayControls({ uid, colormapClass: "xw-colormap", scaleClass: "xw-colormap xw-scale", scaleText: "Scale" });

  const classSection = h("div", "xw-control xw-classes");
  const classHeading = h("div", "xw-heading", { "aria-hidden": "true" }, "Class");
  const classList = h("div", "xw-class-list", { role: "radiogroup", "aria-label": "Class", "data-testid": "xw-classes" });
  classSection.append(classHeading, classList);

  const opacitySection = h("div", "xw-control");
  const opacityRow = h("div", "xw-control-row");
  opacityRow.append(controls.opacityLabel, controls.opacityValue);
  opacitySection.append(opacityRow, controls.opacity);

  const colormapSection = h("div", "xw-control");
  colormapSection.append(controls.colormapLabel, controls.colormap);

  const scaleSection = h("div", "xw-control");
  scaleSection.append(controls.scaleLabel, controls.scale);

  const colorbar = h("div", "xw-control xw-colorbar", { "data-testid": "xw-colorbar", "data-signed": "false" });
  const colorbarHeading = h("div", "xw-heading", { "data-testid": "xw-colorbar-heading" }, "Map value");
  const ramp = h("div", "xw-colorbar-ramp", { "aria-hidden": "true" });
  const marker = h("span", "xw-colorbar-marker", { "data-testid": "xw-colorbar-marker", hidden: true });
  ramp.append(marker);
  const ticks = h("div", "xw-colorbar-ticks");
  const tickMin = h("span", "xw-colorbar-min", { "data-testid": "xw-colorbar-min" });
  const tickMid = h("span", "xw-colorbar-mid", { "data-testid": "xw-colorbar-mid", hidden: true }, "0");
  const tickMax = h("span", "xw-colorbar-max", { "data-testid": "xw-colorbar-max" });
  ticks.append(tickMin, tickMid, tickMax);
  const colorbarNote = h("div", "xw-note", { "data-testid": "xw-colorbar-note", hidden: true });
  colorbar.append(colorbarHeading, ramp, ticks, colorbarNote);

  const pointsSection = h("div", "xw-control xw-points", { hidden: true });
  const pointsRow = h("div", "xw-points-row");
  const pointsToggle = h("input", "xw-points-toggle", { id: `${uid}-points`, type: "checkbox", "data-testid": "xw-points" });
  const pointsLabel = h("label", "xw-heading", { for: `${uid}-points` }, "Fixations");
  pointsRow.append(pointsToggle, pointsLabel);
  const pointsNote = h("div", "xw-note", { "data-testid": "xw-points-note" });
  pointsSection.append(pointsRow, pointsNote);

  panel.append(classSection, opacitySection, colormapSection, scaleSection, colorbar, pointsSection);
  const body = h("div", "xw-body");
  body.append(stage, panel);
  root.append(body, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let classes: ClassInfo[] = [];
  let methods: MethodInfo[] = [];
  let maps: Maps | null = null;
  let image: Drawable | null = null;
  let imageSize = { width: 1, height: 1 };
  let imageToken = 0;
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

  function sizeCanvas(): void {
    const { width, height } = imageSize;
    const scale = DISPLAY_SIZE / Math.max(width, height);
    const cssW = Math.round(width * scale);
    const cssH = Math.round(height * scale);
    const dpr = pixelRatio();
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
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
    drawOverlay(ctx, canvas, image, drawn ? heat : null, clampOpacity(model.get("opacity")));
    updateColorbar(drawn);
    const path = pathOf(points, currentRow());
    const showPath = model.get("show_points") !== false && path.vertices.length > 0;
    if (showPath) drawPath(ctx, canvas, imageSize, path, pixelRatio());
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
    paintColourBar(ramp, tickMin, tickMax, drawn ? display : null, readColormap(model));
    tickMid.hidden = !signed;
    colorbar.dataset.signed = String(signed);
    colorbarHeading.textContent = signed ? "Map value (signed)" : "Map value";
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
  const classButtons: HTMLButtonElement[] = [];

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
    classList.replaceChildren();
    classButtons.length = 0;
    const { start, count } = currentMethod();
    for (let i = 0; i < count; i++) {
      const c = classes[start + i];
      const button = h("button", "xw-class", {
        type: "button",
        role: "radio",
        "data-testid": `xw-class-${i}`,
        "data-position": i,
        "aria-label": `${c.label}, probability ${formatProbability(c.probability)}`,
        title: classText(c.label, c.probability),
      });
      const label = h("span", "xw-class-label", {}, c.label);
      const prob = h("span", "xw-class-prob", {}, formatProbability(c.probability));
      const track = h("span", "xw-class-track", { "aria-hidden": "true" });
      const bar = h("span", "xw-class-bar");
      bar.style.width = `${Math.max(0, Math.min(1, c.probability ?? 0)) * 100}%`;
      track.append(bar);
      button.append(label, prob, track);
      classList.append(button);
      classButtons.push(button);
    }
    syncClassButtons();
  }

  function syncClassButtons(): void {
    checkRadio(classButtons, selected());
  }

  function checkCounts(): void {
    if (maps !== null && maps.count !== classes.length) {
      setError("counts", `maps holds ${maps.count} classes but classes lists ${classes.length}.`);
    } else {
      setError("counts", null);
    }
  }

  function choose(position: number, focus: boolean): void {
    const p = clampSelection(position, currentMethod().count);
    if (focus) classButtons[p]?.focus();
    if (p === model.get("selected")) return;
    model.set("selected", p);
    model.save_changes();
  }

  cleanups.push(
    ...bindRadioGroup(classList, {
      selector: ".xw-class",
      position: (button) => Number(button.dataset.position),
      current: selected,
      count: () => currentMethod().count,
      choose,
    }),
  );

  // ---------------------------------------------------------------- controls
  const sync = bindDisplayControls(model, controls, cleanups);

  // ---------------------------------------------------------------- hover read-out
  const READOUT_HINT = "Hover over the image to read the map value.";

  function clearReadout(): void {
    readout.textContent = READOUT_HINT;
    readout.dataset.active = "false";
    marker.hidden = true;
    delete readout.dataset.value;
    delete readout.dataset.row;
    delete readout.dataset.col;
  }

  cleanups.push(
    listen(canvas, "pointermove", (event) => {
      if (maps === null || maps.count === 0) return;
      const cell = cellAt(event.clientX, event.clientY, canvas.getBoundingClientRect(), maps.rows, maps.cols);
      if (cell === null) return clearReadout();
      const k = Math.min(currentRow(), maps.count - 1);
      const value = maps.data[k * maps.rows * maps.cols + cell.index];
      const c = classes[k];
      const prefix = methods.length > 1 ? `${currentMethod().name} \u00b7 ` : "";
      readout.textContent = `${prefix}${c ? c.label : `map ${k}`}: ${formatValue(value)} at (x ${cell.col}, y ${cell.row})`;
      readout.dataset.active = "true";
      readout.dataset.value = String(value);
      readout.dataset.row = String(cell.row);
      readout.dataset.col = String(cell.col);
      const l = level(value, display.range);
      marker.hidden = l < 0;
      marker.style.left = `${(Math.max(0, l) / 255) * 100}%`;
    }),
    listen(canvas, "pointerleave", clearReadout),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadMaps(): void {
    maps = readOrReport(setError, "maps", () => readMaps(model.get("maps")));
    heatKey = "";
    checkCounts();
  }

  function loadImage(): void {
    const token = ++imageToken;
    let payload: ImagePayload;
    try {
      imageSize = checkImagePayload(model.get("image"));
      payload = model.get("image") as ImagePayload;
    } catch (e) {
      setError("image", `Cannot read the image: ${(e as Error).message}.`);
      return;
    }
    sizeCanvas();
    draw();
    void decodeAll([payload], () => !disposed && token === imageToken).then((results) => {
      if (results === null) return;
      const [result] = results;
      if (result.status === "fulfilled") {
        releaseImage(image);
        image = result.value;
        setError("image", null);
        draw();
      } else {
        setError("image", `Cannot decode the image: ${errorText(result.reason)}.`);
      }
      root.dataset.ready = "true";
    });
  }

  function loadText(): void {
    title.textContent = String(model.get("title") ?? "");
    const m = methods[methodIndex()];
    method.textContent = m !== undefined && m.detail !== "" ? m.detail : String(model.get("method") ?? "");
    title.hidden = title.textContent === "";
    method.hidden = method.textContent === "";
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", () => { if (switching) return; syncClassButtons(); draw(); clearReadout(); }],
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

  return () => {
    disposed = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
    releaseImage(image);
    image = null;
    el.replaceChildren();
  };
}

export type { WidgetModel };
export default { render };
