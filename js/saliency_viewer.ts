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
// scale "auto" | "minmax" | "signed" | title | method (fallback text of the method line).

import { decodeArray, type ArrayPayload } from "./lib/buffers";
import {
  COLORMAP_NAMES,
  DEFAULT_COLORMAP,
  DIVERGING_COLORMAP,
  colormapGradient,
  getColormap,
  isColormap,
} from "./lib/colormaps";
import { h, listen } from "./lib/dom";
import { classText, formatProbability, formatValue } from "./lib/format";
import { checkImagePayload, decodeImage, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import { carrySelection, readClasses, readMethods, type ClassInfo, type MethodInfo } from "./lib/methods";
import type { RenderProps, WidgetModel } from "./lib/model";
import { absQuantile, colourise, displayFor, isScale, isSignedDisplay, level, mapRange, type Display, type Scale } from "./lib/normalise";
import { cellAt } from "./lib/pointer";
import { clampOpacity, clampSelection, navigate } from "./lib/selection";
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

const SCALE_LABELS: ReadonlyArray<[Scale, string]> = [
  ["auto", "Auto (signed when \u00b1)"],
  ["minmax", "Min\u2013max"],
  ["signed", "Signed, centred on 0"],
];

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
  const root = h("div", "xw-root xw-saliency", { "data-testid": "xw-saliency", "data-ready": "false" });
  const style = h("style");
  style.textContent = SALIENCY_VIEWER_CSS;

  const header = h("header", "xw-header");
  const title = h("div", "xw-title", { "data-testid": "xw-title" });
  const methodList = h("div", "xw-method-list", { role: "radiogroup", "aria-label": "Method", "data-testid": "xw-methods" });
  const method = h("div", "xw-method", { "data-testid": "xw-method" });
  header.append(title, methodList, method);

  const stage = h("figure", "xw-stage");
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-canvas", role: "img", width: 1, height: 1 });
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "aria-live": "polite", "data-active": "false" });
  stage.append(canvas, readout);

  const panel = h("div", "xw-panel");

  const classSection = h("div", "xw-control xw-classes");
  const classHeading = h("div", "xw-heading", { "aria-hidden": "true" }, "Class");
  const classList = h("div", "xw-class-list", { role: "radiogroup", "aria-label": "Class", "data-testid": "xw-classes" });
  classSection.append(classHeading, classList);

  const opacitySection = h("div", "xw-control");
  const opacityRow = h("div", "xw-control-row");
  const opacityLabel = h("label", "xw-heading", {}, "Opacity");
  const opacityValue = h("output", "xw-opacity-value", { "data-testid": "xw-opacity-value" });
  const opacity = h("input", "xw-opacity", {
    type: "range", min: 0, max: 1, step: 0.01, "data-testid": "xw-opacity",
  });
  opacityRow.append(opacityLabel, opacityValue);
  opacitySection.append(opacityRow, opacity);

  const colormapSection = h("div", "xw-control");
  const colormapLabel = h("label", "xw-heading", {}, "Colour map");
  const colormap = h("select", "xw-colormap", { "data-testid": "xw-colormap" });
  for (const name of COLORMAP_NAMES) colormap.append(h("option", null, { value: name }, name));
  colormapSection.append(colormapLabel, colormap);

  const scaleSection = h("div", "xw-control");
  const scaleLabel = h("label", "xw-heading", {}, "Scale");
  const scaleSelect = h("select", "xw-colormap xw-scale", { "data-testid": "xw-scale" });
  for (const [value, text] of SCALE_LABELS) scaleSelect.append(h("option", null, { value }, text));
  scaleSection.append(scaleLabel, scaleSelect);

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

  panel.append(classSection, opacitySection, colormapSection, scaleSection, colorbar);
  const body = h("div", "xw-body");
  body.append(stage, panel);
  const error = h("div", "xw-error", { role: "alert", "data-testid": "xw-error", hidden: true });
  root.append(style, header, body, error);
  el.replaceChildren(root);

  // Associate labels with their controls by id (unique per render).
  const uid = `xw-sv-${Math.random().toString(36).slice(2, 10)}`;
  opacity.id = `${uid}-opacity`;
  opacityLabel.htmlFor = opacity.id;
  opacityValue.htmlFor.add(opacity.id);
  colormap.id = `${uid}-colormap`;
  colormapLabel.htmlFor = colormap.id;
  scaleSelect.id = `${uid}-scale`;
  scaleLabel.htmlFor = scaleSelect.id;

  // ---------------------------------------------------------------- state
  let classes: ClassInfo[] = [];
  let methods: MethodInfo[] = [];
  let maps: Maps | null = null;
  let image: Drawable | null = null;
  let imageSize = { width: 1, height: 1 };
  let imageToken = 0;
  /** true while the UI sets method_index and selected together (one redraw, one save) */
  let switching = false;
  const errors = new Map<string, string>();
  // The coloured map of the current row, cached by (row, colour map, scale, maps object).
  const heat = document.createElement("canvas");
  let heatKey = "";
  let heatMaps: Maps | null = null;
  let display: Display = { range: { min: 0, max: 0 }, signed: false };

  const ctx = canvas.getContext("2d");

  function setError(key: string, message: string | null): void {
    if (message === null) errors.delete(key);
    else errors.set(key, message);
    error.hidden = errors.size === 0;
    error.textContent = [...errors.values()].join(" ");
  }

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

  function currentColormap(): string {
    const name = model.get("colormap");
    return isColormap(name) ? name : DEFAULT_COLORMAP;
  }

  function currentScale(): Scale {
    const value = model.get("scale");
    return isScale(value) ? value : "auto";
  }

  function sizeCanvas(): void {
    const { width, height } = imageSize;
    const scale = DISPLAY_SIZE / Math.max(width, height);
    const cssW = Math.round(width * scale);
    const cssH = Math.round(height * scale);
    const dpr = Math.min(2, Math.max(1, globalThis.devicePixelRatio || 1));
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }

  /** Recolour the current row's map into the offscreen canvas when needed. */
  function updateHeat(): boolean {
    if (maps === null || maps.count === 0) return false;
    const k = Math.min(currentRow(), maps.count - 1);
    const scale = currentScale();
    const cmap = currentColormap();
    const key = `${k}|${cmap}|${scale}`;
    if (key === heatKey && heatMaps === maps) return true;
    const n = maps.rows * maps.cols;
    const range = mapRange(maps.data, k * n, n);
    const limit = isSignedDisplay(scale, range) ? absQuantile(maps.data, k * n, n) : undefined;
    display = displayFor(scale, range, limit);
    heat.width = maps.cols;
    heat.height = maps.rows;
    const hctx = heat.getContext("2d");
    if (hctx === null) return false;
    const pixels = hctx.createImageData(maps.cols, maps.rows);
    colourise(maps.data, k * n, n, display.range, getColormap(display.signed ? DIVERGING_COLORMAP : cmap), pixels.data, display.signed);
    hctx.putImageData(pixels, 0, 0);
    heatKey = key;
    heatMaps = maps;
    return true;
  }

  function draw(): void {
    if (disposed || ctx === null) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (image !== null) {
      ctx.globalAlpha = 1;
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    }
    const drawn = updateHeat();
    if (drawn) {
      ctx.globalAlpha = clampOpacity(model.get("opacity"));
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
      ctx.globalAlpha = 1;
    }
    updateColorbar(drawn);
    const c = classes[currentRow()];
    const m = methods.length > 1 ? `${currentMethod().name} ` : "";
    canvas.setAttribute(
      "aria-label",
      c ? `Image with the ${m}saliency map for class ${c.label} overlaid` : "Image with its saliency map overlaid",
    );
    root.dataset.signed = String(drawn && display.signed);
  }

  function updateColorbar(drawn: boolean): void {
    const signed = drawn && display.signed;
    ramp.style.background = colormapGradient(signed ? DIVERGING_COLORMAP : currentColormap());
    tickMin.textContent = drawn ? formatValue(display.range.min) : "";
    tickMax.textContent = drawn ? formatValue(display.range.max) : "";
    tickMid.hidden = !signed;
    colorbar.dataset.signed = String(signed);
    colorbarHeading.textContent = signed ? "Map value (signed)" : "Map value";
    colorbarNote.hidden = !signed;
    colorbarNote.textContent = signed ? `Diverging ${DIVERGING_COLORMAP}: blue below 0, red above, transparent near 0; limits \u00b1 the 99th percentile of |value|.` : "";
  }

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
    const m = methodIndex();
    methodButtons.forEach((button, i) => {
      const on = i === m;
      button.setAttribute("aria-checked", String(on));
      button.tabIndex = on ? 0 : -1;
    });
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
    listen(methodList, "click", (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>(".xw-method-tab");
      if (button === null || !methodList.contains(button)) return;
      chooseMethod(Number(button.dataset.position), false);
    }),
    listen(methodList, "keydown", (event) => {
      const next = navigate(methodIndex(), event.key, methods.length);
      if (next === null) return;
      event.preventDefault();
      chooseMethod(next, true);
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
    const s = selected();
    classButtons.forEach((button, i) => {
      const on = i === s;
      button.setAttribute("aria-checked", String(on));
      button.tabIndex = on ? 0 : -1;
    });
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
    listen(classList, "click", (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>(".xw-class");
      if (button === null || !classList.contains(button)) return;
      choose(Number(button.dataset.position), false);
    }),
    listen(classList, "keydown", (event) => {
      const next = navigate(selected(), event.key, currentMethod().count);
      if (next === null) return;
      event.preventDefault();
      choose(next, true);
    }),
  );

  // ---------------------------------------------------------------- controls
  function syncOpacity(): void {
    const v = clampOpacity(model.get("opacity"));
    if (document.activeElement !== opacity || Number(opacity.value) !== v) opacity.value = String(v);
    opacityValue.textContent = `${Math.round(v * 100)}%`;
  }

  function syncColormap(): void {
    colormap.value = currentColormap();
  }

  function syncScale(): void {
    scaleSelect.value = currentScale();
  }

  cleanups.push(
    listen(opacity, "input", () => {
      const v = clampOpacity(Number(opacity.value));
      model.set("opacity", v);
      model.save_changes();
    }),
    listen(colormap, "change", () => {
      if (!isColormap(colormap.value)) return;
      model.set("colormap", colormap.value);
      model.save_changes();
    }),
    listen(scaleSelect, "change", () => {
      if (!isScale(scaleSelect.value)) return;
      model.set("scale", scaleSelect.value);
      model.save_changes();
    }),
  );

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
    try {
      maps = readMaps(model.get("maps"));
      setError("maps", null);
    } catch (e) {
      maps = null;
      setError("maps", `Cannot read the maps: ${(e as Error).message}.`);
    }
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
    decodeImage(payload).then(
      (decoded) => {
        if (disposed || token !== imageToken) return releaseImage(decoded);
        releaseImage(image);
        image = decoded;
        setError("image", null);
        draw();
        root.dataset.ready = "true";
      },
      (e: unknown) => {
        if (disposed || token !== imageToken) return;
        setError("image", `Cannot decode the image: ${(e as Error)?.message ?? String(e)}.`);
        root.dataset.ready = "true";
      },
    );
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
    ["change:opacity", () => { syncOpacity(); draw(); }],
    ["change:colormap", () => { syncColormap(); draw(); }],
    ["change:scale", () => { syncScale(); draw(); }],
    ["change:classes", () => { loadClasses(); draw(); }],
    ["change:methods", () => { loadClasses(); draw(); clearReadout(); }],
    ["change:maps", () => { loadMaps(); draw(); clearReadout(); }],
    ["change:image", loadImage],
    ["change:title", loadText],
    ["change:method", loadText],
  ];
  for (const [event, handler] of handlers) {
    model.on(event, handler);
    cleanups.push(() => model.off(event, handler));
  }

  loadMaps();
  loadClasses();
  loadText();
  syncOpacity();
  syncColormap();
  syncScale();
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
