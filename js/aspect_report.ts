// AspectReport: a class x aspect matrix of relevant aspect presence (seed 001). Each cell
// counts the images of a class in which an aspect was present and relevant to the output,
// shaded by that count's share of the class, with the plain-presence count under it.
// Clicking a cell shows its images with the aspect's relevant mask drawn over them; a second
// click closes it. Outliers (rare combinations of relevant aspects for their class) are
// listed under the matrix. Everything is client-side; UI changes set `selected` and call
// save_changes().
//
// Traits (see xwidgets/widgets/aspect_report.py for the contract): classes [{name, images}] (K)
// | aspects [str] (A) | counts [[int]] (K x A) | present_counts [[int]] or [] | images
// [{png, width, height}] (M) | captions [str] (M) | cells [[[[image, mask]]]] (K x A) | masks
// {data, dtype: "uint8", shape: [E, H, W]} | outliers [{image, class, aspects, rarity}] |
// selected [] or [class, aspect] | title | subtitle.

import { decodeArray, type ArrayPayload, type DecodedArray } from "./lib/buffers";
import { h, listen, readOrReport, widgetFrame } from "./lib/dom";
import { checkImagePayload, decodeImage, errorText, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { ASPECT_REPORT_CSS } from "./aspect_report.styles";

// ------------------------------------------------------------------ pure logic (tested in vitest)

export interface ClassRow {
  name: string;
  images: number;
}

export interface Outlier {
  image: number;
  cls: number;
  aspects: string[];
  rarity: number;
  /** aspects on which the image is unusual for its class: "+tag" (relevant here, rarely elsewhere), "-wheel" */
  unusual: string[];
}

export interface ReportData {
  classes: ClassRow[];
  aspects: string[];
  counts: number[][];
  present: number[][] | null;
  /** per class, per aspect: [image position, mask row] pairs */
  cells: Array<Array<Array<[number, number]>>>;
  outliers: Outlier[];
  images: number;
}

function intOr(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) ? n : fallback;
}

function matrix(value: unknown, name: string, k: number, a: number): number[][] {
  if (!Array.isArray(value) || value.length !== k) throw new TypeError(`${name}: expected ${k} rows`);
  return value.map((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== a) throw new TypeError(`${name}[${i}]: expected ${a} counts`);
    return row.map((v) => Math.max(0, intOr(v, 0)));
  });
}

/** Decode and check the widget's state; throws with what was wrong. */
export function readReport(state: {
  classes: unknown; aspects: unknown; counts: unknown; present_counts: unknown; cells: unknown; outliers: unknown;
  images: unknown; masks_rows: number;
}): ReportData {
  if (!Array.isArray(state.classes)) throw new TypeError("classes: expected a list");
  const classes = state.classes.map((c: Partial<ClassRow> | null, i) => {
    if (c === null || typeof c !== "object") throw new TypeError(`classes[${i}]: expected {name, images}`);
    return { name: String(c.name ?? `class ${i}`), images: Math.max(0, intOr(c.images, 0)) };
  });
  if (!Array.isArray(state.aspects)) throw new TypeError("aspects: expected a list");
  const aspects = state.aspects.map(String);
  const k = classes.length;
  const a = aspects.length;
  const counts = matrix(state.counts, "counts", k, a);
  const present = Array.isArray(state.present_counts) && state.present_counts.length
    ? matrix(state.present_counts, "present_counts", k, a) : null;
  const images = Array.isArray(state.images) ? state.images.length : 0;
  if (!Array.isArray(state.cells) || state.cells.length !== k) throw new TypeError(`cells: expected ${k} rows`);
  const cells = state.cells.map((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== a) throw new TypeError(`cells[${i}]: expected ${a} lists`);
    return row.map((entries: unknown, j) => {
      if (!Array.isArray(entries)) throw new TypeError(`cells[${i}][${j}]: expected a list`);
      return entries.map((e: unknown, n): [number, number] => {
        const pair = e as unknown[];
        const image = intOr(pair?.[0], -1);
        const mask = intOr(pair?.[1], -1);
        if (!Array.isArray(e) || image < 0 || image >= images || mask < -1 || mask >= state.masks_rows) {
          throw new RangeError(`cells[${i}][${j}][${n}]: expected [image in [0, ${images}), mask in [-1, ${state.masks_rows})]`);
        }
        return [image, mask];
      });
    });
  });
  const outliers = (Array.isArray(state.outliers) ? state.outliers : []).flatMap((o: Record<string, unknown> | null) => {
    if (o === null || typeof o !== "object") return [];
    const image = intOr(o.image, -1);
    const cls = intOr(o.class, -1);
    if (image < 0 || image >= images || cls < 0 || cls >= k) return [];
    const unusual = (Array.isArray(o.unusual) ? o.unusual : []).flatMap((u: unknown) =>
      Array.isArray(u) && u.length >= 2 ? [`${u[1] ? "+" : "\u2212"}${String(u[0])}`] : []);
    return [{ image, cls, aspects: Array.isArray(o.aspects) ? o.aspects.map(String) : [], rarity: Number(o.rarity), unusual }];
  });
  return { classes, aspects, counts, present, cells, outliers, images };
}

/** The selected cell as [class, aspect], or null when the value is not a cell of a k x a matrix. */
export function readCell(value: unknown, k: number, a: number): [number, number] | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [c, j] = value.map(Number);
  return Number.isInteger(c) && Number.isInteger(j) && c >= 0 && c < k && j >= 0 && j < a ? [c, j] : null;
}

/** The share of a class's images (0 when it has none). */
export function share(count: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, count / total)) : 0;
}

/** A cell's tooltip: "wheel relevant in 18 of 20 two_wheeler images (90%); present in 20". */
export function cellTitle(data: ReportData, c: number, j: number): string {
  const cls = data.classes[c];
  const n = data.counts[c][j];
  let text = `${data.aspects[j]} relevant in ${n} of ${cls.images} ${cls.name} image${cls.images === 1 ? "" : "s"} ` +
    `(${Math.round(share(n, cls.images) * 100)}%)`;
  if (data.present !== null) text += `; present in ${data.present[c][j]}`;
  return text;
}

/** RGBA pixels of a uint8 mask (0..255) tinted `rgb`, alpha = mask x `opacity`. */
export function maskToRgba(
  mask: Uint8Array, rgb: readonly [number, number, number], opacity = 0.6,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(mask.length * 4));
  for (let i = 0; i < mask.length; i++) {
    out[4 * i] = rgb[0];
    out[4 * i + 1] = rgb[1];
    out[4 * i + 2] = rgb[2];
    out[4 * i + 3] = Math.round(mask[i] * opacity);
  }
  return out;
}

/** The background of a cell: the accent colour at the share's strength. */
export function cellShade(value: number): string {
  return `color-mix(in srgb, var(--xw-accent) ${Math.round(Math.min(1, Math.max(0, value)) * 70)}%, transparent)`;
}

const MASK_RGB: readonly [number, number, number] = [235, 40, 40];
const THUMB = 96;

// ------------------------------------------------------------------ the widget

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  const { root, header, title, error, setError } = widgetFrame("aspects", ASPECT_REPORT_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);
  const table = h("table", "xw-matrix", { "data-testid": "xw-matrix" });
  const wrap = h("div", "xw-matrix-wrap");
  wrap.append(table);
  const detail = h("section", "xw-detail", { "data-testid": "xw-detail", "aria-live": "polite" });
  const outlierBox = h("section", "xw-outliers", { "data-testid": "xw-outliers" });
  root.append(wrap, detail, outlierBox, error);
  el.replaceChildren(root);

  let data: ReportData | null = null;
  let masks: DecodedArray | null = null;
  const decoded = new Map<number, Promise<Drawable>>();
  let generation = 0;

  function image(position: number): Promise<Drawable> {
    let p = decoded.get(position);
    if (p === undefined) {
      const payloads = model.get("images") as ImagePayload[];
      checkImagePayload(payloads[position]);
      p = decodeImage(payloads[position]);
      decoded.set(position, p);
    }
    return p;
  }

  function releaseAll(): void {
    for (const p of decoded.values()) p.then(releaseImage, () => undefined);
    decoded.clear();
  }

  function thumbnail(position: number, maskRow: number, caption: string, testid: string): HTMLElement {
    const figure = h("figure", "xw-thumb", { "data-testid": testid });
    const canvas = h("canvas", "xw-thumb-canvas", { width: THUMB, height: THUMB, "data-testid": `${testid}-canvas` });
    figure.append(canvas, h("figcaption", "xw-caption", {}, caption));
    const mine = generation;
    image(position).then((drawable) => {
      if (mine !== generation) return;
      const ctx = canvas.getContext("2d");
      if (ctx === null) return;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(drawable, 0, 0, THUMB, THUMB);
      if (maskRow >= 0 && masks !== null) {
        const [, mh, mw] = masks.shape;
        const start = maskRow * mh * mw;
        const rgba = maskToRgba((masks.data as Uint8Array).subarray(start, start + mh * mw), MASK_RGB);
        const layer = document.createElement("canvas");
        layer.width = mw;
        layer.height = mh;
        layer.getContext("2d")?.putImageData(new ImageData(rgba, mw, mh), 0, 0);
        ctx.drawImage(layer, 0, 0, THUMB, THUMB);
      }
      figure.dataset.drawn = "true";
    }, (e: unknown) => setError("images", `Cannot decode an image: ${errorText(e)}.`));
    return figure;
  }

  function buildTable(): void {
    table.replaceChildren();
    if (data === null) return;
    const head = h("thead");
    const hr = h("tr");
    hr.append(h("th", "xw-corner", { scope: "col" }, "class \\ aspect"));
    for (const a of data.aspects) hr.append(h("th", "xw-aspect", { scope: "col" }, a));
    head.append(hr);
    const body = h("tbody");
    data.classes.forEach((cls, c) => {
      const tr = h("tr");
      tr.append(h("th", "xw-class", { scope: "row" }, `${cls.name} (${cls.images})`));
      data!.aspects.forEach((_, j) => {
        const td = h("td");
        const n = data!.counts[c][j];
        const button = h("button", "xw-cell", {
          type: "button", "data-testid": `xw-cell-${c}-${j}`, "data-class": c, "data-aspect": j,
          "aria-pressed": false, title: cellTitle(data!, c, j), disabled: n === 0 && (data!.present?.[c][j] ?? 0) === 0,
        });
        button.style.background = cellShade(share(n, cls.images));
        button.append(h("span", "xw-count", {}, String(n)));
        if (data!.present !== null) button.append(h("span", "xw-present", {}, `of ${data!.present[c][j]}`));
        td.append(button);
        tr.append(td);
      });
      body.append(tr);
    });
    table.append(head, body);
  }

  function buildDetail(): void {
    generation++;
    detail.replaceChildren();
    if (data === null) return;
    const cell = readCell(model.get("selected"), data.classes.length, data.aspects.length);
    for (const b of table.querySelectorAll<HTMLButtonElement>(".xw-cell")) {
      const on = cell !== null && Number(b.dataset.class) === cell[0] && Number(b.dataset.aspect) === cell[1];
      b.setAttribute("aria-pressed", String(on));
    }
    if (cell === null) {
      detail.append(h("div", "xw-hint", {}, "Click a cell to see its images and the aspect's relevant masks."));
      return;
    }
    const [c, j] = cell;
    const entries = data.cells[c][j];
    const captions = (model.get("captions") as unknown[]) ?? [];
    detail.append(
      h("div", "xw-heading", { "data-testid": "xw-detail-title" }, `${data.classes[c].name} \u00d7 ${data.aspects[j]}`),
      h("div", "xw-detail-text", { "data-testid": "xw-detail-text" }, cellTitle(data, c, j)),
    );
    if (entries.length === 0) {
      detail.append(h("div", "xw-empty", {}, "No image of this class had this aspect relevant."));
      return;
    }
    const grid = h("div", "xw-thumbs");
    entries.forEach(([position, maskRow], n) => {
      grid.append(thumbnail(position, maskRow, String(captions[position] ?? `Image ${position}`), `xw-thumb-${n}`));
    });
    detail.append(grid);
  }

  function buildOutliers(): void {
    outlierBox.replaceChildren();
    if (data === null || data.outliers.length === 0) return;
    outlierBox.append(h("div", "xw-heading", {}, "Outliers: unusual relevant aspects for their class"));
    const grid = h("div", "xw-thumbs");
    const captions = (model.get("captions") as unknown[]) ?? [];
    data.outliers.forEach((o, n) => {
      const aspects = o.aspects.length ? o.aspects.join(", ") : "no relevant aspect";
      const unusual = o.unusual.length ? ` (unusual: ${o.unusual.join(", ")})` : "";
      const caption = `${String(captions[o.image] ?? `Image ${o.image}`)} \u00b7 ${aspects}${unusual}`;
      grid.append(thumbnail(o.image, -1, caption, `xw-outlier-${n}`));
    });
    outlierBox.append(grid);
  }

  function load(): void {
    const shape = readOrReport(setError, "masks", () => decodeArray(model.get("masks") as ArrayPayload));
    masks = shape !== null && shape.dtype === "uint8" && shape.shape.length === 3 ? shape : null;
    if (shape !== null && masks === null) setError("masks", "Cannot read the masks: expected uint8 (E, H, W).");
    data = readOrReport(setError, "report", () => readReport({
      classes: model.get("classes"), aspects: model.get("aspects"), counts: model.get("counts"),
      present_counts: model.get("present_counts"), cells: model.get("cells"), outliers: model.get("outliers"),
      images: model.get("images"), masks_rows: masks?.shape[0] ?? 0,
    }));
    releaseAll();
    buildTable();
    buildDetail();
    buildOutliers();
    root.dataset.ready = "true";
  }

  function loadTitle(): void {
    title.textContent = String(model.get("title") ?? "");
    title.hidden = title.textContent === "";
    subtitle.textContent = String(model.get("subtitle") ?? "");
  }

  cleanups.push(listen(table, "click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>(".xw-cell");
    if (button === null || data === null) return;
    const c = Number(button.dataset.class);
    const j = Number(button.dataset.aspect);
    const current = readCell(model.get("selected"), data.classes.length, data.aspects.length);
    const next = current !== null && current[0] === c && current[1] === j ? [] : [c, j];
    model.set("selected", next);
    buildDetail();
    model.save_changes();
  }));
  const reload = () => load();
  cleanups.push(...subscribe(model, [
    ["change:classes", reload], ["change:counts", reload], ["change:cells", reload], ["change:masks", reload],
    ["change:images", reload], ["change:outliers", reload], ["change:present_counts", reload],
    ["change:selected", buildDetail], ["change:title", loadTitle], ["change:subtitle", loadTitle],
  ]));
  loadTitle();
  load();

  return () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    generation++;
    releaseAll();
    el.replaceChildren();
  };
}

export type { WidgetModel };
export default { render };
