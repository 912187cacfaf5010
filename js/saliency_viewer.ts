// SaliencyViewer: an image with the saliency map of a chosen class overlaid.
//
// Every class's map for the image arrives once (`maps`, float16 or float32 buffer), so
// switching class, opacity and colour map, and the hover read-out, are all client-side.
// UI changes set the trait and call save_changes(); trait changes from Python redraw.
//
// Traits: image {png, width, height} | maps {data, dtype, shape: [K, H, W]} |
// classes [{index, label, probability}] (K) | selected (position in classes) |
// opacity [0, 1] | colormap | title | method.

import { decodeArray, type ArrayPayload } from "./lib/buffers";
import { COLORMAP_NAMES, colormapGradient, getColormap, isColormap, DEFAULT_COLORMAP } from "./lib/colormaps";
import { h, listen } from "./lib/dom";
import { classText, formatProbability, formatValue } from "./lib/format";
import { checkImagePayload, decodeImage, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import type { RenderProps, WidgetModel } from "./lib/model";
import { colourise, level, mapRange, type Range } from "./lib/normalise";
import { cellAt } from "./lib/pointer";
import { clampOpacity, clampSelection, navigate } from "./lib/selection";
import { SALIENCY_VIEWER_CSS } from "./saliency_viewer.styles";

export interface ClassInfo {
  index: number;
  label: string;
  probability: number | null;
}

interface Maps {
  data: Float32Array | Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** Longest side of the drawn image in CSS pixels (the canvas keeps the image's aspect). */
const DISPLAY_SIZE = 320;

function readClasses(value: unknown): ClassInfo[] {
  if (!Array.isArray(value)) return [];
  return value.map((c: Partial<ClassInfo> | null, i) => ({
    index: Number(c?.index ?? i),
    label: String(c?.label ?? `class ${i}`),
    probability: typeof c?.probability === "number" ? c.probability : null,
  }));
}

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
  const method = h("div", "xw-method", { "data-testid": "xw-method" });
  header.append(title, method);

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

  const colorbar = h("div", "xw-control xw-colorbar", { "data-testid": "xw-colorbar" });
  const colorbarHeading = h("div", "xw-heading", {}, "Map value");
  const ramp = h("div", "xw-colorbar-ramp", { "aria-hidden": "true" });
  const marker = h("span", "xw-colorbar-marker", { "data-testid": "xw-colorbar-marker", hidden: true });
  ramp.append(marker);
  const ticks = h("div", "xw-colorbar-ticks");
  const tickMin = h("span", "xw-colorbar-min", { "data-testid": "xw-colorbar-min" });
  const tickMax = h("span", "xw-colorbar-max", { "data-testid": "xw-colorbar-max" });
  ticks.append(tickMin, tickMax);
  colorbar.append(colorbarHeading, ramp, ticks);

  panel.append(classSection, opacitySection, colormapSection, colorbar);
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

  // ---------------------------------------------------------------- state
  let classes: ClassInfo[] = [];
  let maps: Maps | null = null;
  let image: Drawable | null = null;
  let imageSize = { width: 1, height: 1 };
  let imageToken = 0;
  const errors = new Map<string, string>();
  // The coloured map of the current class, cached by (class, colour map, maps object).
  const heat = document.createElement("canvas");
  let heatKey = "";
  let heatMaps: Maps | null = null;
  let range: Range = { min: 0, max: 0 };

  const ctx = canvas.getContext("2d");

  function setError(key: string, message: string | null): void {
    if (message === null) errors.delete(key);
    else errors.set(key, message);
    error.hidden = errors.size === 0;
    error.textContent = [...errors.values()].join(" ");
  }

  function selected(): number {
    return clampSelection(model.get("selected"), classes.length);
  }

  function currentColormap(): string {
    const name = model.get("colormap");
    return isColormap(name) ? name : DEFAULT_COLORMAP;
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

  /** Recolour the current class's map into the offscreen canvas when needed. */
  function updateHeat(): boolean {
    if (maps === null || maps.count === 0) return false;
    const k = Math.min(selected(), maps.count - 1);
    const cmap = currentColormap();
    const key = `${k}|${cmap}`;
    if (key === heatKey && heatMaps === maps) return true;
    const n = maps.rows * maps.cols;
    range = mapRange(maps.data, k * n, n);
    heat.width = maps.cols;
    heat.height = maps.rows;
    const hctx = heat.getContext("2d");
    if (hctx === null) return false;
    const pixels = hctx.createImageData(maps.cols, maps.rows);
    colourise(maps.data, k * n, n, range, getColormap(cmap), pixels.data);
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
    if (updateHeat()) {
      ctx.globalAlpha = clampOpacity(model.get("opacity"));
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
      ctx.globalAlpha = 1;
    }
    updateColorbar();
    const c = classes[selected()];
    canvas.setAttribute(
      "aria-label",
      c ? `Image with the saliency map for class ${c.label} overlaid` : "Image with its saliency map overlaid",
    );
  }

  function updateColorbar(): void {
    ramp.style.background = colormapGradient(currentColormap());
    const empty = maps === null;
    tickMin.textContent = empty ? "" : formatValue(range.min);
    tickMax.textContent = empty ? "" : formatValue(range.max);
  }

  // ---------------------------------------------------------------- class picker
  const classButtons: HTMLButtonElement[] = [];

  function buildClasses(): void {
    classes = readClasses(model.get("classes"));
    classList.replaceChildren();
    classButtons.length = 0;
    classes.forEach((c, i) => {
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
    });
    syncClassButtons();
    checkCounts();
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
    const p = clampSelection(position, classes.length);
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
      const next = navigate(selected(), event.key, classes.length);
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
      const k = Math.min(selected(), maps.count - 1);
      const value = maps.data[k * maps.rows * maps.cols + cell.index];
      const c = classes[k];
      readout.textContent = `${c ? c.label : `map ${k}`}: ${formatValue(value)} at (x ${cell.col}, y ${cell.row})`;
      readout.dataset.active = "true";
      readout.dataset.value = String(value);
      readout.dataset.row = String(cell.row);
      readout.dataset.col = String(cell.col);
      const l = level(value, range);
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
    method.textContent = String(model.get("method") ?? "");
    title.hidden = title.textContent === "";
    method.hidden = method.textContent === "";
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", () => { syncClassButtons(); draw(); clearReadout(); }],
    ["change:opacity", () => { syncOpacity(); draw(); }],
    ["change:colormap", () => { syncColormap(); draw(); }],
    ["change:classes", () => { buildClasses(); draw(); }],
    ["change:maps", () => { loadMaps(); draw(); clearReadout(); }],
    ["change:image", loadImage],
    ["change:title", loadText],
    ["change:method", loadText],
  ];
  for (const [event, handler] of handlers) {
    model.on(event, handler);
    cleanups.push(() => model.off(event, handler));
  }

  loadText();
  loadMaps();
  buildClasses();
  syncOpacity();
  syncColormap();
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
