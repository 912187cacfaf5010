// SAGViewer: a structured attention graph (Shitole, Li, Kahng, Tadepalli & Fern, "One
// Explanation is Not Enough: Structured Attention Graphs for Image Classification", NeurIPS
// 2021). The shown roots (minimal sufficient patch sets) head their removal trees; each node
// is a masked thumbnail with its probability; edges are coloured and widened by the
// probability drop. Clicking a node shows its patches on the full image and, linked, on a
// saliency map of the same image.
//
// Traits (see xwidgets/widgets/sag_viewer.py for the contract):
//   image {png, width, height} | saliency {data, dtype, shape [H, W]} in [0, 1] | saliency_method |
//   grid [rows, cols] | soft_edges | nodes [{id, patches, probability, relative, parent, removed,
//   drop, depth, root}] | drop_bins [small, large] | label | probability | threshold |
//   minimal_sets | selected (node id, -1: none) | opacity | colormap | title.
// Selection, opacity and colour map are client-side; UI changes set the trait and call
// save_changes(). Keyboard: arrows move along the trees (up: parent, down: first child,
// left/right: siblings), Home: the first root.

import { decodeArray, type ArrayPayload } from "./lib/buffers";
import { bindDisplayControls, displayControls } from "./lib/controls";
import { SVG_NS, h, listen, readOrReport, widgetFrame } from "./lib/dom";
import { formatProbability } from "./lib/format";
import { checkImagePayload, decodeImage, errorText, releaseImage, type Drawable, type ImagePayload } from "./lib/image";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import type { Display } from "./lib/normalise";
import { drawOverlay, paintHeat, pixelRatio, readColormap } from "./lib/overlay";
import { clampOpacity } from "./lib/selection";
import { SAG_CSS } from "./sag_viewer.styles";

// ------------------------------------------------------------------------------ pure logic

export interface SagNode {
  id: number;
  patches: number[];
  probability: number;
  relative: number;
  parent: number;
  removed: number;
  drop: number | null;
  depth: number;
  root: number;
}

export const DROP_CLASSES = ["small", "medium", "large"] as const;
export type DropClass = (typeof DROP_CLASSES)[number];

/** Edge colours: three viridis colours, light to dark (readable in lightness alone), as in
 * xwidgets/sag/result.py DROP_COLOURS; widths grow with the drop too. */
export const DROP_COLOURS: Readonly<Record<DropClass, string>> = { small: "#7AD151", medium: "#2A788E", large: "#440154" };
export const DROP_WIDTHS: Readonly<Record<DropClass, number>> = { small: 1.5, medium: 3, large: 4.5 };

/** "small", "medium" or "large" for a drop in probability points; null for a root. */
export function dropClass(drop: number | null, bins: readonly number[] = [20, 60]): DropClass | null {
  if (drop === null || !Number.isFinite(drop)) return null;
  if (drop < bins[0]) return "small";
  return drop < bins[1] ? "medium" : "large";
}

/** The `grid` trait as [rows, cols]; throws on anything else. */
export function readGrid(value: unknown): [number, number] {
  const g = Array.isArray(value) ? value.map(Number) : [];
  if (g.length !== 2 || !g.every((v) => Number.isInteger(v) && v > 0)) {
    throw new TypeError("grid: expected [rows, cols] of positive integers");
  }
  return [g[0], g[1]];
}

/** Decode the `nodes` trait (ids must be positions, parents earlier nodes); throws with what was wrong. */
export function readNodes(value: unknown, cells: number): SagNode[] {
  if (!Array.isArray(value)) throw new TypeError("nodes: expected a list");
  return value.map((n: Partial<SagNode> | null, i) => {
    if (n === null || typeof n !== "object" || !Array.isArray(n.patches)) {
      throw new TypeError(`nodes[${i}]: expected {id, patches, probability, ...}`);
    }
    const patches = n.patches.map(Number);
    if (!patches.every((c) => Number.isInteger(c) && c >= 0 && c < cells)) {
      throw new RangeError(`nodes[${i}].patches: expected cells in [0, ${cells})`);
    }
    const parent = Number(n.parent ?? -1);
    if (Number(n.id) !== i || !Number.isInteger(parent) || parent >= i || parent < -1) {
      throw new RangeError(`nodes[${i}]: expected id ${i} and a parent among the earlier nodes (or -1)`);
    }
    const drop = n.drop === null || n.drop === undefined ? null : Number(n.drop);
    return {
      id: i,
      patches,
      probability: Number(n.probability),
      relative: Number(n.relative),
      parent,
      removed: Number(n.removed ?? -1),
      drop: drop !== null && Number.isFinite(drop) ? drop : null,
      depth: Number.isInteger(Number(n.depth)) ? Number(n.depth) : 0,
      root: Number.isInteger(Number(n.root)) ? Number(n.root) : i,
    };
  });
}

/** The selected node id for `value`: -1 (none) unless it names a node. */
export function readSelected(value: unknown, count: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n < count ? n : -1;
}

/** Children of each node, in node order. */
export function childrenOf(nodes: readonly SagNode[]): number[][] {
  const kids: number[][] = nodes.map(() => []);
  for (const n of nodes) if (n.parent >= 0) kids[n.parent].push(n.id);
  return kids;
}

/** The roots, in node order. */
export function rootsOf(nodes: readonly SagNode[]): number[] {
  return nodes.filter((n) => n.parent < 0).map((n) => n.id);
}

export interface TreeLayout {
  root: number;
  /** node id -> [slot (leaves one apart, a parent over the middle of its children), depth] */
  positions: Map<number, [number, number]>;
  slots: number;
  depth: number;
}

/** One layout per root: leaves in order one slot apart, parents centred over their children. */
export function layoutTrees(nodes: readonly SagNode[]): TreeLayout[] {
  const kids = childrenOf(nodes);
  return rootsOf(nodes).map((root) => {
    const positions = new Map<number, [number, number]>();
    let cursor = 0;
    let deepest = 0;
    const place = (id: number, depth: number): number => {
      deepest = Math.max(deepest, depth);
      const children = kids[id];
      let x: number;
      if (children.length === 0) {
        x = cursor;
        cursor += 1;
      } else {
        const xs = children.map((c) => place(c, depth + 1));
        x = (xs[0] + xs[xs.length - 1]) / 2;
      }
      positions.set(id, [x, depth]);
      return x;
    };
    place(root, 0);
    return { root, positions, slots: Math.max(1, cursor), depth: deepest + 1 };
  });
}

/** The ids from the root down to `id`. */
export function pathToRoot(nodes: readonly SagNode[], id: number): number[] {
  const path: number[] = [];
  for (let k = id; k >= 0 && k < nodes.length; k = nodes[k].parent) path.unshift(k);
  return path;
}

/** The node a navigation key moves to from `id` (null: the key does not move). */
export function moveSelection(nodes: readonly SagNode[], id: number, key: string): number | null {
  const roots = rootsOf(nodes);
  if (nodes.length === 0) return null;
  if (key === "Home") return roots[0];
  if (key === "End") return roots[roots.length - 1];
  if (id < 0 || id >= nodes.length) return ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(key) ? roots[0] : null;
  const kids = childrenOf(nodes);
  const node = nodes[id];
  const siblings = node.parent < 0 ? roots : kids[node.parent];
  const k = siblings.indexOf(id);
  if (key === "ArrowUp") return node.parent >= 0 ? node.parent : null;
  if (key === "ArrowDown") return kids[id].length > 0 ? kids[id][0] : null;
  if (key === "ArrowLeft") return k > 0 ? siblings[k - 1] : null;
  if (key === "ArrowRight") return k < siblings.length - 1 ? siblings[k + 1] : null;
  return null;
}

/**
 * How much each pixel of a width x height image the patch set reveals, in [0, 1]: the
 * rows x cols grid mask upsampled bilinearly with half-pixel centres (torch's
 * align_corners=False, edges clamped) when `soft`, else nearest cell. As the model saw it.
 */
export function patchWeights(patches: readonly number[], rows: number, cols: number, width: number, height: number, soft: boolean): Float32Array {
  const grid = new Float32Array(rows * cols);
  for (const c of patches) if (c >= 0 && c < rows * cols) grid[c] = 1;
  const out = new Float32Array(width * height);
  const sy = rows / height;
  const sx = cols / width;
  for (let y = 0; y < height; y++) {
    let fy = soft ? Math.max(0, (y + 0.5) * sy - 0.5) : Math.min(rows - 1, Math.floor(y * sy));
    const y0 = Math.min(rows - 1, Math.floor(fy));
    const y1 = Math.min(rows - 1, y0 + 1);
    fy -= y0;
    for (let x = 0; x < width; x++) {
      let v: number;
      if (soft) {
        let fx = Math.max(0, (x + 0.5) * sx - 0.5);
        const x0 = Math.min(cols - 1, Math.floor(fx));
        const x1 = Math.min(cols - 1, x0 + 1);
        fx -= x0;
        const top = grid[y0 * cols + x0] * (1 - fx) + grid[y0 * cols + x1] * fx;
        const bottom = grid[y1 * cols + x0] * (1 - fx) + grid[y1 * cols + x1] * fx;
        v = top * (1 - fy) + bottom * fy;
      } else {
        v = grid[y0 * cols + Math.min(cols - 1, Math.floor(x * sx))];
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

/** [x, y, w, h] of grid cell `cell` on a width x height surface. */
export function cellRect(cell: number, rows: number, cols: number, width: number, height: number): [number, number, number, number] {
  const r = Math.floor(cell / cols);
  const c = cell % cols;
  const x0 = (c * width) / cols;
  const y0 = (r * height) / rows;
  return [x0, y0, ((c + 1) * width) / cols - x0, ((r + 1) * height) / rows - y0];
}

/** "3 patches · p 0.88 (96% of the full image) · −12 points" */
export function nodeText(node: SagNode): string {
  const parts = [
    `${node.patches.length} patch${node.patches.length === 1 ? "" : "es"}`,
    `p ${formatProbability(node.probability)} (${Math.round(node.relative * 100)}% of the full image)`,
  ];
  if (node.drop !== null) parts.push(`\u2212${node.drop.toFixed(1)} points without patch ${node.removed}`);
  else parts.push("a root: minimal sufficient");
  return parts.join(" \u00b7 ");
}

// ------------------------------------------------------------------------------ the widget

const DISPLAY = 240; // CSS pixels of the image and saliency canvases
const THUMB = 56; // CSS pixels of a node thumbnail
const SLOT = 68; // horizontal space per leaf
const LEVEL = 92; // vertical space per depth
const LABEL = 18; // the probability under a thumbnail
const DIM = 0.25; // brightness of hidden patches
const UNIT: Display = { range: { min: 0, max: 1 }, signed: false };

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  const { root, header, title, error, setError } = widgetFrame("sag", SAG_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);
  const uid = `xw-sag-${Math.random().toString(36).slice(2, 10)}`;

  const views = h("div", "xw-views");
  const imageFigure = h("figure", "xw-view");
  const imageCanvas = h("canvas", "xw-canvas", { "data-testid": "xw-image", role: "img", width: 1, height: 1 });
  imageFigure.append(imageCanvas, h("figcaption", "xw-heading", {}, "Patches of the selected node"));
  const salFigure = h("figure", "xw-view");
  const salCanvas = h("canvas", "xw-canvas", { "data-testid": "xw-saliency", role: "img", width: 1, height: 1 });
  const salCaption = h("figcaption", "xw-heading", { "data-testid": "xw-saliency-caption" });
  salFigure.append(salCanvas, salCaption);
  const panel = h("div", "xw-panel");
  const controls = displayControls({ uid, colormapClass: "xw-select", scaleClass: "xw-select", scaleText: "Scale" });
  const opacityRow = h("div", "xw-control-row");
  opacityRow.append(controls.opacityLabel, controls.opacityValue);
  const legend = h("div", "xw-legend", { "data-testid": "xw-legend" });
  panel.append(opacityRow, controls.opacity, controls.colormapLabel, controls.colormap, h("div", "xw-heading", {}, "Probability drop"), legend);
  views.append(imageFigure, salFigure, panel);
  const caption = h("div", "xw-caption", { "data-testid": "xw-caption", "aria-live": "polite" });
  const forest = h("div", "xw-forest", { role: "tree", "aria-label": "Removal trees", "data-testid": "xw-forest" });
  root.append(views, caption, forest, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let nodes: SagNode[] = [];
  let grid: [number, number] = [1, 1];
  let image: Drawable | null = null;
  let pixels: ImageData | null = null;
  let saliency: Float32Array | null = null;
  let salShape: [number, number] = [0, 0];
  let token = 0;
  const heat = document.createElement("canvas");
  const scratch = document.createElement("canvas");
  const maskedCache = new Map<string, HTMLCanvasElement>();
  const buttons: HTMLButtonElement[] = [];

  const soft = (): boolean => model.get("soft_edges") !== false;
  const current = (): number => readSelected(model.get("selected"), nodes.length);

  /** The image with everything but `patches` dimmed, at the image's own size (cached). */
  function masked(patches: readonly number[]): HTMLCanvasElement | null {
    if (pixels === null) return null;
    const key = patches.join(",");
    const hit = maskedCache.get(key);
    if (hit) return hit;
    const { width, height } = pixels;
    const weights = patchWeights(patches, grid[0], grid[1], width, height, soft());
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    if (ctx === null) return null;
    const out = ctx.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const f = DIM + (1 - DIM) * weights[i];
      out.data[i * 4] = pixels.data[i * 4] * f;
      out.data[i * 4 + 1] = pixels.data[i * 4 + 1] * f;
      out.data[i * 4 + 2] = pixels.data[i * 4 + 2] * f;
      out.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(out, 0, 0);
    maskedCache.set(key, canvas);
    return canvas;
  }

  function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): void {
    const scale = DISPLAY / Math.max(width, height);
    const dpr = pixelRatio();
    canvas.style.width = `${Math.round(width * scale)}px`;
    canvas.style.height = `${Math.round(height * scale)}px`;
    canvas.width = Math.round(width * scale * dpr);
    canvas.height = Math.round(height * scale * dpr);
  }

  function outline(ctx: CanvasRenderingContext2D, canvas: HTMLCanvasElement, patches: readonly number[]): void {
    const lw = Math.max(1.5, canvas.width / 160);
    for (const cell of patches) {
      const [x, y, w, hh] = cellRect(cell, grid[0], grid[1], canvas.width, canvas.height);
      ctx.lineWidth = lw * 2.2;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.85)";
      ctx.strokeRect(x + lw, y + lw, w - 2 * lw, hh - 2 * lw);
      ctx.lineWidth = lw;
      ctx.strokeStyle = "#ffffff";
      ctx.strokeRect(x + lw, y + lw, w - 2 * lw, hh - 2 * lw);
    }
  }

  function drawViews(): void {
    if (disposed || image === null) return;
    const id = current();
    const patches = id >= 0 ? nodes[id].patches : [];
    const ictx = imageCanvas.getContext("2d");
    if (ictx !== null) {
      ictx.clearRect(0, 0, imageCanvas.width, imageCanvas.height);
      ictx.imageSmoothingEnabled = true;
      const m = id >= 0 ? masked(patches) : null;
      ictx.drawImage(m ?? image, 0, 0, imageCanvas.width, imageCanvas.height);
      outline(ictx, imageCanvas, patches);
    }
    const sctx = salCanvas.getContext("2d");
    if (sctx !== null) {
      const drawn = saliency !== null && paintHeat(heat, saliency, 0, salShape[0], salShape[1], UNIT, readColormap(model));
      drawOverlay(sctx, salCanvas, image, drawn ? heat : null, clampOpacity(model.get("opacity")));
      outline(sctx, salCanvas, patches);
    }
    const node = id >= 0 ? nodes[id] : null;
    caption.textContent = node === null ? "Click a node to see its patches." : nodeText(node);
    const where = node === null ? "no node selected" : `patches ${node.patches.join(", ")}`;
    imageCanvas.setAttribute("aria-label", `The image, ${where}`);
    salCanvas.setAttribute("aria-label", `Saliency map (${String(model.get("saliency_method") ?? "")}), ${where}`);
    root.dataset.selected = String(id);
    root.dataset.patches = patches.join(",");
    for (const b of buttons) {
      const on = Number(b.dataset.node) === id;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on || (id < 0 && b === buttons[0]) ? 0 : -1;
    }
  }

  function drawThumbs(): void {
    for (const b of buttons) {
      const canvas = b.querySelector("canvas");
      const m = masked(nodes[Number(b.dataset.node)].patches);
      const ctx = canvas?.getContext("2d");
      if (!canvas || !ctx || m === null) continue;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(m, 0, 0, canvas.width, canvas.height);
    }
  }

  function buildForest(): void {
    forest.replaceChildren();
    buttons.length = 0;
    const bins = Array.isArray(model.get("drop_bins")) ? (model.get("drop_bins") as number[]).map(Number) : [20, 60];
    const dpr = pixelRatio();
    for (const tree of layoutTrees(nodes)) {
      const width = tree.slots * SLOT;
      const height = (tree.depth - 1) * LEVEL + THUMB + LABEL + 4;
      const box = h("div", "xw-tree", { role: "group", "data-testid": `xw-tree-${tree.root}` });
      box.style.width = `${width}px`;
      box.style.height = `${height}px`;
      const svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("width", String(width));
      svg.setAttribute("height", String(height));
      svg.setAttribute("aria-hidden", "true");
      const centre = (id: number): [number, number] => {
        const [slot, depth] = tree.positions.get(id) ?? [0, 0];
        return [(slot + 0.5) * SLOT, depth * LEVEL];
      };
      for (const [id] of tree.positions) {
        const n = nodes[id];
        if (n.parent < 0) continue;
        const [x0, y0] = centre(n.parent);
        const [x1, y1] = centre(id);
        const kind = dropClass(n.drop, bins) ?? "small";
        const line = document.createElementNS(SVG_NS, "line");
        line.setAttribute("x1", String(x0));
        line.setAttribute("y1", String(y0 + THUMB + LABEL));
        line.setAttribute("x2", String(x1));
        line.setAttribute("y2", String(y1));
        line.setAttribute("stroke", DROP_COLOURS[kind]);
        line.setAttribute("stroke-width", String(DROP_WIDTHS[kind]));
        line.setAttribute("stroke-linecap", "round");
        line.setAttribute("data-testid", `xw-edge-${id}`);
        line.setAttribute("data-drop", kind);
        svg.append(line);
      }
      box.append(svg);
      for (const [id] of tree.positions) {
        const n = nodes[id];
        const [x, y] = centre(id);
        const button = h("button", "xw-node", {
          type: "button",
          role: "treeitem",
          "data-node": id,
          "data-testid": `xw-node-${id}`,
          "aria-selected": false,
          "aria-label": `${n.parent < 0 ? "Root" : "Node"} ${id}: ${nodeText(n)}`,
          title: nodeText(n),
        });
        button.style.left = `${x - THUMB / 2}px`;
        button.style.top = `${y}px`;
        const thumb = h("canvas", "xw-thumb", { width: Math.round(THUMB * dpr), height: Math.round(THUMB * dpr) });
        thumb.style.width = `${THUMB}px`;
        thumb.style.height = `${THUMB}px`;
        button.append(thumb, h("span", "xw-prob", {}, formatProbability(n.probability)));
        if (n.parent < 0) button.classList.add("xw-root-node");
        box.append(button);
        buttons.push(button);
      }
      forest.append(box);
    }
    if (nodes.length === 0) forest.append(h("div", "xw-empty", {}, "No root to show: no minimal sufficient set was found."));
    legend.replaceChildren();
    const texts = [`< ${bins[0]} points`, `${bins[0]} to ${bins[1]}`, `\u2265 ${bins[1]} points`];
    DROP_CLASSES.forEach((kind, i) => {
      const item = h("div", "xw-legend-item");
      const swatch = h("span", "xw-swatch", { "aria-hidden": "true" });
      swatch.style.background = DROP_COLOURS[kind];
      swatch.style.height = `${DROP_WIDTHS[kind]}px`;
      item.append(swatch, h("span", null, {}, texts[i]));
      legend.append(item);
    });
  }

  function loadHeader(): void {
    title.textContent = String(model.get("title") ?? "");
    title.hidden = title.textContent === "";
    const roots = rootsOf(nodes).length;
    const found = Number(model.get("minimal_sets") ?? roots);
    subtitle.textContent = `${String(model.get("label") ?? "")}: p ${formatProbability(Number(model.get("probability")))} \u00b7 ` +
      `${found} minimal sufficient set${found === 1 ? "" : "s"} (\u2265 ${Math.round(Number(model.get("threshold") ?? 0.9) * 100)}% of it), ` +
      `${roots} shown`;
    salCaption.textContent = `Saliency: ${String(model.get("saliency_method") ?? "")}`;
  }

  function loadNodes(): void {
    maskedCache.clear();
    grid = readOrReport(setError, "grid", () => readGrid(model.get("grid"))) ?? [1, 1];
    nodes = readOrReport(setError, "nodes", () => readNodes(model.get("nodes"), grid[0] * grid[1])) ?? [];
    buildForest();
    loadHeader();
    drawThumbs();
    drawViews();
  }

  function loadSaliency(): void {
    const decoded = readOrReport(setError, "saliency", () => {
      const d = decodeArray(model.get("saliency") as ArrayPayload);
      if (d.shape.length !== 2) throw new RangeError(`expected shape [H, W]; got [${d.shape.join(", ")}]`);
      return d;
    });
    saliency = decoded === null ? null : Float32Array.from(decoded.data);
    salShape = decoded === null ? [0, 0] : [decoded.shape[0], decoded.shape[1]];
    drawViews();
  }

  async function loadImage(): Promise<void> {
    const mine = ++token;
    const payload = model.get("image") as ImagePayload;
    try {
      const { width, height } = checkImagePayload(payload);
      const decoded = await decodeImage(payload);
      if (disposed || mine !== token) return releaseImage(decoded);
      releaseImage(image);
      image = decoded;
      scratch.width = width;
      scratch.height = height;
      const ctx = scratch.getContext("2d");
      ctx?.drawImage(decoded, 0, 0, width, height);
      pixels = ctx?.getImageData(0, 0, width, height) ?? null;
      maskedCache.clear();
      sizeCanvas(imageCanvas, width, height);
      sizeCanvas(salCanvas, width, height);
      setError("image", null);
      drawThumbs();
      drawViews();
      root.dataset.ready = "true";
    } catch (e) {
      if (mine === token) setError("image", `Cannot show the image: ${errorText(e)}.`);
    }
  }

  function select(id: number, focus: boolean): void {
    const next = readSelected(id, nodes.length);
    if (focus) buttons.find((b) => Number(b.dataset.node) === next)?.focus();
    if (next === current()) return;
    model.set("selected", next);
    drawViews();
    model.save_changes();
  }

  const sync = bindDisplayControls(model as WidgetModel, controls, cleanups);
  cleanups.push(
    listen(forest, "click", (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>(".xw-node");
      if (button !== null) select(Number(button.dataset.node), false);
    }),
    listen(forest, "keydown", (event) => {
      const next = moveSelection(nodes, current(), event.key);
      if (next === null) return;
      event.preventDefault();
      select(next, true);
    }),
  );
  cleanups.push(...subscribe(model, [
    ["change:nodes", loadNodes],
    ["change:grid", loadNodes],
    ["change:soft_edges", loadNodes],
    ["change:drop_bins", loadNodes],
    ["change:selected", drawViews],
    ["change:saliency", loadSaliency],
    ["change:image", () => void loadImage()],
    ["change:opacity", () => { sync.opacity(); drawViews(); }],
    ["change:colormap", () => { sync.colormap(); drawViews(); }],
    ["change:title", loadHeader],
    ["change:label", loadHeader],
    ["change:saliency_method", () => { loadHeader(); drawViews(); }],
  ]));
  sync.opacity();
  sync.colormap();
  loadNodes();
  loadSaliency();
  void loadImage();

  return () => {
    disposed = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
    releaseImage(image);
    image = null;
    maskedCache.clear();
    el.replaceChildren();
  };
}

export type { WidgetModel };
export default { render };
