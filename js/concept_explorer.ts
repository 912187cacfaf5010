// ConceptExplorer: one image's explanation as three linked views: the image with its concept
// patches outlined and numbered (and the saliency map), the concept graph (VRX's structural
// concept graphs, Ge et al., CVPR 2021) and the sentence whose phrases point at nodes and
// edges. Click or hover a node, a patch or a phrase: the other views highlight the same
// concept or relation. The class picker switches between "why" and "why not" at once.
//
// Traits (see xwidgets/widgets/concept_explorer.py for the contract):
//   image {png, width, height} | saliency {} or {data uint8, shape [h, w], min, max} |
//   masks {data, items [[x0, y0, x1, y1, offset]]} (bit-packed crops) | classes [{index,
//   label, probability, question}] | graphs [{nodes, edges, segments, extent, band}] |
//   predicted | limit | graph_layout | selected_class (a class index) | selected (a node or edge
//   id, "" for none) | opacity | colormap | title.
// Every class's graph arrives once; selection, hover, class switching and keyboard
// navigation are client-side; a selection or class change sets the trait and saves.
// Text from data goes in with textContent only.

import { asBytes, decodeArray, type ArrayPayload, type BinaryLike } from "./lib/buffers";
import { colormapColor, colormapGradient, DIVERGING_COLORMAP } from "./lib/colormaps";
import { bindRadioGroup, checkRadio } from "./lib/controls";
import { SVG_NS, h, listen, readOrReport, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatProbability, formatValue } from "./lib/format";
import { ImageSlot } from "./lib/image";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { absQuantile, displayFor, type Range } from "./lib/normalise";
import { drawOverlay, fitCanvas, paintHeat, pixelRatio, readColormap } from "./lib/overlay";
import { clampOpacity } from "./lib/selection";
import { CONCEPT_EXPLORER_CSS } from "./concept_explorer.styles";

// ------------------------------------------------------------------------------ the data

export type Kind = "node" | "edge";

export interface NodeView {
  id: string;
  name: string;
  number: number;
  present: boolean;
  box: [number, number, number, number] | null;
  centroid: [number, number] | null;
  /** item of the masks trait, -1 for none */
  mask: number;
  contribution: number;
  importance: number;
  pos: [number, number];
}

export interface EdgeView {
  id: string;
  source: string;
  target: string;
  relation: string;
  contribution: number;
}

export interface Segment {
  text: string;
  kind: Kind | "";
  ref: string;
}

export interface GraphView {
  nodes: NodeView[];
  edges: EdgeView[];
  segments: Segment[];
  extent: [number, number];
  band: number | null;
  /** id -> position in nodes / edges */
  nodeIndex: Map<string, number>;
  edgeIndex: Map<string, number>;
}

export interface ClassEntry {
  index: number;
  label: string;
  probability: number | null;
  question: string;
}

function finite(value: unknown, where: string): number {
  const n = typeof value === "number" ? value : Number.NaN;
  if (!Number.isFinite(n)) throw new RangeError(`${where}: expected a finite number; got ${String(value)}`);
  return n;
}

function pair(value: unknown, where: string): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) throw new RangeError(`${where}: expected [x, y]`);
  return [finite(value[0], where), finite(value[1], where)];
}

function box(value: unknown, where: string): [number, number, number, number] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || value.length !== 4) throw new RangeError(`${where}: expected [x0, y0, x1, y1] or null`);
  return [finite(value[0], where), finite(value[1], where), finite(value[2], where), finite(value[3], where)];
}

function str(value: unknown, where: string): string {
  if (typeof value !== "string") throw new TypeError(`${where}: expected a string; got ${typeof value}`);
  return value;
}

/** One entry of the `graphs` trait, checked (`where` names it in messages). */
export function readGraph(value: unknown, where = "graph"): GraphView {
  const g = value as Record<string, unknown> | null;
  if (g === null || typeof g !== "object" || !Array.isArray(g.nodes)) throw new TypeError(`${where}: expected {nodes, edges, segments, extent}`);
  const nodeIndex = new Map<string, number>();
  const nodes = (g.nodes as Array<Record<string, unknown>>).map((n, i): NodeView => {
    const w = `${where}.nodes[${i}]`;
    const id = str(n?.id, `${w}.id`);
    if (id === "" || nodeIndex.has(id)) throw new RangeError(`${w}.id: expected a unique, non-empty id; got "${id}"`);
    nodeIndex.set(id, i);
    return {
      id,
      name: str(n.name, `${w}.name`),
      number: typeof n.number === "number" ? n.number : i + 1,
      present: n.present !== false,
      box: box(n.box, `${w}.box`),
      centroid: n.centroid === null || n.centroid === undefined ? null : pair(n.centroid, `${w}.centroid`),
      mask: typeof n.mask === "number" && Number.isInteger(n.mask) ? n.mask : -1,
      contribution: finite(n.contribution, `${w}.contribution`),
      importance: Math.max(0, Math.min(1, finite(n.importance, `${w}.importance`))),
      pos: pair(n.pos, `${w}.pos`),
    };
  });
  const edgeIndex = new Map<string, number>();
  const edges = (Array.isArray(g.edges) ? (g.edges as Array<Record<string, unknown>>) : []).map((e, i): EdgeView => {
    const w = `${where}.edges[${i}]`;
    const id = str(e?.id, `${w}.id`);
    if (id === "" || edgeIndex.has(id) || nodeIndex.has(id)) throw new RangeError(`${w}.id: expected a unique, non-empty id; got "${id}"`);
    edgeIndex.set(id, i);
    const source = str(e.source, `${w}.source`);
    const target = str(e.target, `${w}.target`);
    if (!nodeIndex.has(source) || !nodeIndex.has(target)) throw new RangeError(`${w}: its source and target must be nodes of the graph`);
    return { id, source, target, relation: str(e.relation, `${w}.relation`), contribution: finite(e.contribution, `${w}.contribution`) };
  });
  const segments = (Array.isArray(g.segments) ? (g.segments as Array<Record<string, unknown>>) : []).map((s, i): Segment => {
    const w = `${where}.segments[${i}]`;
    const kind = s?.kind === "node" || s?.kind === "edge" ? s.kind : "";
    const ref = kind === "" ? "" : str(s.ref, `${w}.ref`);
    if (kind === "node" && !nodeIndex.has(ref)) throw new RangeError(`${w}.ref: "${ref}" is not a node of the graph`);
    if (kind === "edge" && !edgeIndex.has(ref)) throw new RangeError(`${w}.ref: "${ref}" is not an edge of the graph`);
    return { text: str(s.text, `${w}.text`), kind, ref };
  });
  const extent = pair(g.extent, `${where}.extent`);
  if (!(extent[0] > 0 && extent[1] > 0)) throw new RangeError(`${where}.extent: expected a positive size`);
  const band = typeof g.band === "number" && Number.isFinite(g.band) ? g.band : null;
  return { nodes, edges, segments, extent, band, nodeIndex, edgeIndex };
}

/** The `graphs` trait. */
export function readGraphs(value: unknown): GraphView[] {
  if (!Array.isArray(value)) throw new TypeError("graphs: expected a list");
  return value.map((g, i) => readGraph(g, `graphs[${i}]`));
}

/** The `classes` trait. */
export function readClassEntries(value: unknown): ClassEntry[] {
  if (!Array.isArray(value)) return [];
  return value.map((c: Partial<ClassEntry> | null, i) => ({
    index: Number(c?.index ?? i),
    label: String(c?.label ?? `class ${i}`),
    probability: typeof c?.probability === "number" ? c.probability : null,
    question: String(c?.question ?? c?.label ?? `class ${i}`),
  }));
}

/** Position among `classes` of the class with index `selectedClass`; 0 when unknown. */
export function classPosition(classes: readonly ClassEntry[], selectedClass: unknown): number {
  const p = classes.findIndex((c) => c.index === selectedClass);
  return p < 0 ? 0 : p;
}

/** What id `ref` is in `graph`: a node, an edge, or null (not in it, or ""). */
export function refKind(graph: GraphView | null, ref: string): Kind | null {
  if (graph === null || ref === "") return null;
  if (graph.nodeIndex.has(ref)) return "node";
  if (graph.edgeIndex.has(ref)) return "edge";
  return null;
}

/** The selection carried to another class: kept when that class has the id, else "". */
export function keepSelection(graph: GraphView | null, selected: string): string {
  return refKind(graph, selected) === null ? "" : selected;
}

// ------------------------------------------------------------------------------ linking

/** How strongly an item is lit: the item itself, or a neighbour of it. */
export type Level = "selected" | "related";

export interface Links {
  nodes: Map<string, Level>;
  edges: Map<string, Level>;
  /** positions in the graph's segments */
  segments: Map<number, Level>;
}

/**
 * What lights up with `ref` in `graph`. A node: itself, its patch and its phrases; its
 * edges and their phrases as related. An edge: itself and its phrases; its two nodes, their
 * patches and phrases as related. Nothing for "" or an unknown id.
 */
export function linksOf(graph: GraphView | null, ref: string): Links {
  const links: Links = { nodes: new Map(), edges: new Map(), segments: new Map() };
  const kind = refKind(graph, ref);
  if (graph === null || kind === null) return links;
  if (kind === "node") {
    links.nodes.set(ref, "selected");
    for (const e of graph.edges) if (e.source === ref || e.target === ref) links.edges.set(e.id, "related");
  } else {
    const edge = graph.edges[graph.edgeIndex.get(ref) as number];
    links.edges.set(ref, "selected");
    for (const end of [edge.source, edge.target]) if (!links.nodes.has(end)) links.nodes.set(end, "related");
  }
  graph.segments.forEach((s, i) => {
    if (s.ref === ref) links.segments.set(i, "selected");
    else if (s.kind === "node" && links.nodes.has(s.ref)) links.segments.set(i, "related");
    else if (s.kind === "edge" && links.edges.has(s.ref)) links.segments.set(i, "related");
  });
  return links;
}

/** The node ids whose patches light up with `links`: every lit node (an edge lights both ends). */
export function litNodes(links: Links): string[] {
  return [...links.nodes.keys()];
}

/**
 * The node that `key` moves to from node `current` ("" or an edge: none yet): arrows step
 * through the nodes in their order (Right and Down forward, Left and Up back, wrapping),
 * Home and End to the ends; null when the key does not navigate or there are no nodes.
 */
export function nextNode(graph: GraphView | null, current: string, key: string): string | null {
  if (graph === null || graph.nodes.length === 0) return null;
  const n = graph.nodes.length;
  const here = graph.nodeIndex.get(current);
  let to: number;
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      to = here === undefined ? 0 : (here + 1) % n;
      break;
    case "ArrowLeft":
    case "ArrowUp":
      to = here === undefined ? n - 1 : (here - 1 + n) % n;
      break;
    case "Home":
      to = 0;
      break;
    case "End":
      to = n - 1;
      break;
    default:
      return null;
  }
  return graph.nodes[to].id;
}

/** The id a click on `ref` selects: `ref`, or "" when it is already selected (a toggle). */
export function clickSelection(selected: string, ref: string): string {
  return ref === selected ? "" : ref;
}

// ------------------------------------------------------------------------------ buffers

export interface MaskItem {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  offset: number;
}

export interface MaskSet {
  data: Uint8Array;
  items: MaskItem[];
}

/** The `masks` trait: bit-packed crops (MSB first, row-major), each checked against the data. */
export function readMasks(value: unknown): MaskSet {
  const v = value as { data?: BinaryLike; items?: unknown } | null;
  if (v === null || typeof v !== "object" || v.data === undefined) return { data: new Uint8Array(0), items: [] };
  const data = asBytes(v.data);
  const items = (Array.isArray(v.items) ? v.items : []).map((it: unknown, i): MaskItem => {
    if (!Array.isArray(it) || it.length !== 5 || !it.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new RangeError(`masks.items[${i}]: expected [x0, y0, x1, y1, offset] of non-negative integers`);
    }
    const [x0, y0, x1, y1, offset] = it as number[];
    if (!(x1 > x0 && y1 > y0)) throw new RangeError(`masks.items[${i}]: expected x1 > x0 and y1 > y0`);
    const bytes = Math.ceil(((x1 - x0) * (y1 - y0)) / 8);
    if (offset + bytes > data.byteLength) {
      throw new RangeError(`masks.items[${i}]: needs bytes [${offset}, ${offset + bytes}) of ${data.byteLength}`);
    }
    return { x0, y0, x1, y1, offset };
  });
  return { data, items };
}

/** Whether pixel (x, y) of the image is in mask `index`. */
export function maskHas(masks: MaskSet, index: number, x: number, y: number): boolean {
  const m = masks.items[index];
  if (m === undefined || x < m.x0 || x >= m.x1 || y < m.y0 || y >= m.y1) return false;
  const bit = (y - m.y0) * (m.x1 - m.x0) + (x - m.x0);
  return ((masks.data[m.offset + (bit >> 3)] >> (7 - (bit & 7))) & 1) === 1;
}

/**
 * Alpha (0..255, one byte per pixel of the width x height image) of the spotlight that dims
 * the image around the lit concepts: `dim` everywhere, 0 on each lit region (a mask item,
 * or a box [x0, y0, x1, y1] for a concept without a mask).
 */
export function spotlightAlpha(
  masks: MaskSet,
  regions: ReadonlyArray<number | readonly [number, number, number, number]>,
  width: number,
  height: number,
  dim: number,
): Uint8Array {
  const alpha = new Uint8Array(width * height).fill(dim);
  for (const region of regions) {
    if (typeof region === "number") {
      const m = masks.items[region];
      if (m === undefined) continue;
      const w = m.x1 - m.x0;
      for (let y = m.y0; y < Math.min(m.y1, height); y++) {
        for (let x = m.x0; x < Math.min(m.x1, width); x++) {
          const bit = (y - m.y0) * w + (x - m.x0);
          if ((masks.data[m.offset + (bit >> 3)] >> (7 - (bit & 7))) & 1) alpha[y * width + x] = 0;
        }
      }
    } else {
      const [x0, y0, x1, y1] = region;
      for (let y = Math.max(0, Math.floor(y0)); y < Math.min(height, Math.ceil(y1)); y++) {
        alpha.fill(0, y * width + Math.max(0, Math.floor(x0)), y * width + Math.min(width, Math.ceil(x1)));
      }
    }
  }
  return alpha;
}

export interface SaliencyMap {
  data: Float32Array;
  rows: number;
  cols: number;
  range: Range;
}

/** The `saliency` trait: null for none; uint8 levels mapped back onto [min, max]. */
export function readSaliency(value: unknown): SaliencyMap | null {
  const v = value as (ArrayPayload & { min?: number; max?: number }) | null;
  if (v === null || typeof v !== "object" || v.data === undefined) return null;
  const decoded = decodeArray(v);
  if (decoded.dtype !== "uint8" || decoded.shape.length !== 2) {
    throw new RangeError(`saliency: expected uint8 data of shape [h, w]; got ${decoded.dtype} [${decoded.shape.join(", ")}]`);
  }
  const min = finite(v.min, "saliency.min");
  const max = finite(v.max, "saliency.max");
  const data = new Float32Array(decoded.data.length);
  const step = (max - min) / 255;
  for (let i = 0; i < data.length; i++) data[i] = min + decoded.data[i] * step;
  return { data, rows: decoded.shape[0], cols: decoded.shape[1], range: { min, max } };
}

// ------------------------------------------------------------------------------ drawing maths

/** The diverging colour (RdBu reversed: negative blue, 0 near white, positive red) of a
 *  contribution on [-limit, limit]. */
export function contributionColour(value: number, limit: number): string {
  const t = limit > 0 ? Math.max(-1, Math.min(1, value / limit)) : 0;
  return colormapColor(DIVERGING_COLORMAP, (t + 1) * 127.5);
}

/** Text colour readable on `colour` (an "rgb(r, g, b)"): near black on light, white on dark. */
export function inkOn(colour: string): string {
  const [r, g, b] = (colour.match(/\d+/g) ?? ["0", "0", "0"]).map(Number);
  const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  return luminance < 0.45 ? "#fff" : "#111";
}

/** A node's radius in the graph's units: 2.2% to 6.2% of the drawing's longer side. */
export function nodeRadius(importance: number, extent: readonly [number, number]): number {
  const side = Math.max(extent[0], extent[1]);
  return side * (0.022 + 0.04 * Math.max(0, Math.min(1, importance)));
}

/** An edge's stroke width in the graph's units, growing with |contribution| / limit. */
export function edgeWidth(contribution: number, limit: number, extent: readonly [number, number]): number {
  const side = Math.max(extent[0], extent[1]);
  const t = limit > 0 ? Math.min(1, Math.abs(contribution) / limit) : 0;
  return side * (0.004 + 0.018 * t);
}

/** The segment between two circles' rims (centres a, b; radii ra, rb); null when they overlap. */
export function rimToRim(a: readonly [number, number], b: readonly [number, number], ra: number, rb: number): [number, number, number, number] | null {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const d = Math.hypot(dx, dy);
  if (!(d > ra + rb)) return null;
  const ux = dx / d;
  const uy = dy / d;
  return [a[0] + ux * ra, a[1] + uy * ra, b[0] - ux * rb, b[1] - uy * rb];
}

/** A signed score: "+0.42", "-0.1", "0". */
export function formatSigned(v: number): string {
  const text = formatValue(v);
  return v > 0 ? `+${text}` : text;
}

/** Lines of a node's tooltip. */
export function nodeTooltip(node: NodeView): string[] {
  return [
    `${node.number} \u00b7 ${node.name}`,
    `contribution ${formatSigned(node.contribution)} \u00b7 importance ${formatValue(node.importance)}`,
    node.present ? "found in the image" : "not found in the image",
  ];
}

/** Lines of an edge's tooltip. */
export function edgeTooltip(edge: EdgeView, graph: GraphView): string[] {
  const name = (id: string): string => {
    const n = graph.nodes[graph.nodeIndex.get(id) as number];
    return n === undefined ? id : `${n.name} ${n.number}`;
  };
  return [`${name(edge.source)} ${edge.relation} ${name(edge.target)}`, `contribution ${formatSigned(edge.contribution)}`];
}

/** The tooltip lines of `ref` in `graph` (none for an unknown id). */
export function tooltipOf(graph: GraphView | null, ref: string): string[] {
  const kind = refKind(graph, ref);
  if (graph === null || kind === null) return [];
  return kind === "node" ? nodeTooltip(graph.nodes[graph.nodeIndex.get(ref) as number]) : edgeTooltip(graph.edges[graph.edgeIndex.get(ref) as number], graph);
}

// ------------------------------------------------------------------------------ the widget

/** Longest side of the image and of the graph in CSS pixels. */
const DISPLAY_SIZE = 300;
/** Alpha of the veil over what is not lit. */
const DIM = 150;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const { root, header, title, error, setError } = widgetFrame("explorer", CONCEPT_EXPLORER_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);

  const classList = h("div", "xw-class-list", { role: "radiogroup", "aria-label": "Explain the class", "data-testid": "xw-classes" });

  const imagePanel = h("figure", "xw-panel xw-image-panel");
  const stage = h("div", "xw-stage");
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-image-canvas", role: "img", width: 1, height: 1 });
  const patchLayer = svg("svg", { class: "xw-patches", "data-testid": "xw-patches", "aria-hidden": "true" });
  stage.append(canvas, patchLayer);
  const imageCaption = h("figcaption", "xw-caption", { "data-testid": "xw-status", "aria-live": "polite" });
  const opacityRow = h("div", "xw-opacity-row");
  const uid = uniqueId("xw-ce");
  const opacityLabel = h("label", "xw-heading", { for: `${uid}-opacity` }, "Saliency");
  const opacity = h("input", "xw-opacity", { id: `${uid}-opacity`, type: "range", min: 0, max: 1, step: 0.01, "data-testid": "xw-opacity" });
  const opacityValue = h("output", "xw-opacity-value", { "data-testid": "xw-opacity-value" });
  opacityRow.append(opacityLabel, opacity, opacityValue);
  imagePanel.append(stage, imageCaption, opacityRow);

  const graphPanel = h("figure", "xw-panel xw-graph-panel");
  const graphStage = h("div", "xw-stage");
  const backdrop = h("canvas", "xw-backdrop", { "data-testid": "xw-backdrop", "aria-hidden": "true", width: 1, height: 1 });
  const graphSvg = svg("svg", { class: "xw-graph", "data-testid": "xw-graph", role: "group" });
  graphStage.append(backdrop, graphSvg);
  const legend = h("div", "xw-legend", { "data-testid": "xw-legend" });
  const ramp = h("div", "xw-ramp", { "aria-hidden": "true" });
  ramp.style.background = colormapGradient(DIVERGING_COLORMAP);
  const ticks = h("div", "xw-ticks");
  const tickMin = h("span", null, { "data-testid": "xw-limit-min" });
  const tickMid = h("span", null, {}, "0");
  const tickMax = h("span", null, { "data-testid": "xw-limit-max" });
  ticks.append(tickMin, tickMid, tickMax);
  legend.append(
    h("div", "xw-heading", {}, "Contribution"),
    ramp,
    ticks,
    h("div", "xw-note", {}, "Size: importance. Dashed: not found. Arrows: relations. Arrow keys move between nodes, Enter selects, Esc clears."),
  );
  graphPanel.append(graphStage, legend);

  const textPanel = h("section", "xw-text-panel", { "aria-label": "Explanation" });
  const question = h("div", "xw-question", { "data-testid": "xw-question" });
  const sentence = h("p", "xw-sentence", { "data-testid": "xw-text" });
  textPanel.append(question, sentence);

  const tooltip = h("div", "xw-tooltip", { role: "tooltip", "data-testid": "xw-tooltip", hidden: true });
  const views = h("div", "xw-views");
  views.append(imagePanel, graphPanel);
  root.append(classList, views, textPanel, tooltip, error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let classes: ClassEntry[] = [];
  let graphs: GraphView[] = [];
  let masks: MaskSet = { data: new Uint8Array(0), items: [] };
  let sal: SaliencyMap | null = null;
  const image = new ImageSlot(setError);
  /** what the pointer or the keyboard focus is on ("" none): it previews over the selection */
  let preview = "";
  const ctx = canvas.getContext("2d");
  const heat = document.createElement("canvas");
  let heatReady = false;
  const veil = document.createElement("canvas");
  let veilKey = "";

  // id -> elements, rebuilt with the class
  let nodeEls = new Map<string, SVGGElement>();
  let edgeEls = new Map<string, SVGGElement>();
  let patchEls = new Map<string, SVGGElement>();
  let phraseEls: HTMLElement[] = [];
  let phraseIndex: number[] = [];

  const position = (): number => classPosition(classes, model.get("selected_class"));
  const graph = (): GraphView | null => graphs[position()] ?? null;
  const selected = (): string => {
    const value = model.get("selected");
    return typeof value === "string" ? value : "";
  };
  const limit = (): number => {
    const v = Number(model.get("limit"));
    return Number.isFinite(v) && v > 0 ? v : 1;
  };

  // ---------------------------------------------------------------- image view
  function sizeStage(): void {
    const imageSize = image.size;
    const { width: cssW, height: cssH } = fitCanvas(canvas, imageSize, DISPLAY_SIZE);
    stage.style.width = `${cssW}px`;
    stage.style.height = `${cssH}px`;
    patchLayer.setAttribute("viewBox", `0 0 ${imageSize.width} ${imageSize.height}`);
    patchLayer.setAttribute("width", String(cssW));
    patchLayer.setAttribute("height", String(cssH));
    veilKey = "";
  }

  function paintSaliency(): void {
    heatReady = false;
    if (sal === null) return;
    const limitQ = absQuantile(sal.data);
    heatReady = paintHeat(heat, sal.data, 0, sal.rows, sal.cols, displayFor("auto", sal.range, limitQ), readColormap(model));
  }

  /** The veil over the image that leaves the lit patches clear (cached per lit set). */
  function paintVeil(lit: string[], g: GraphView): boolean {
    const regions: Array<number | [number, number, number, number]> = [];
    for (const id of lit) {
      const n = g.nodes[g.nodeIndex.get(id) as number];
      if (n === undefined) continue;
      if (n.mask >= 0 && n.mask < masks.items.length) regions.push(n.mask);
      else if (n.box !== null) regions.push(n.box);
    }
    const key = `${position()}|${lit.join(",")}`;
    if (key === veilKey) return true;
    const { width, height } = image.size;
    veil.width = width;
    veil.height = height;
    const vctx = veil.getContext("2d");
    if (vctx === null) return false;
    const alpha = spotlightAlpha(masks, regions, width, height, DIM);
    const pixels = vctx.createImageData(width, height);
    for (let i = 0; i < alpha.length; i++) pixels.data[i * 4 + 3] = alpha[i];
    vctx.putImageData(pixels, 0, 0);
    veilKey = key;
    return true;
  }

  function drawImage(lit: string[]): void {
    if (disposed || ctx === null) return;
    drawOverlay(ctx, canvas, image.image, heatReady ? heat : null, clampOpacity(model.get("opacity"), 0.45));
    const g = graph();
    if (lit.length > 0 && g !== null && paintVeil(lit, g)) {
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(veil, 0, 0, canvas.width, canvas.height);
      ctx.imageSmoothingEnabled = true;
    }
    canvas.dataset.lit = lit.join(" ");
  }

  function buildPatches(g: GraphView | null): void {
    patchLayer.replaceChildren();
    patchEls = new Map();
    if (g === null) return;
    const side = Math.max(image.size.width, image.size.height);
    const located = g.nodes.filter((n) => n.box !== null);
    // the largest first, so that small patches stay on top and clickable
    located.sort((a, b) => area(b.box) - area(a.box));
    for (const n of located) {
      const [x0, y0, x1, y1] = n.box as [number, number, number, number];
      const group = svg("g", { class: "xw-patch", "data-testid": "xw-patch", "data-ref": n.id, "data-state": "none", "data-present": String(n.present) });
      const colour = contributionColour(n.contribution, limit());
      const attrs = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
      group.append(
        svg("rect", { ...attrs, class: "xw-patch-halo" }),
        svg("rect", { ...attrs, class: "xw-patch-outline", stroke: colour }),
        svg("rect", { ...attrs, class: "xw-patch-hit" }),
      );
      const r = side * 0.035;
      const [bx, by] = [Math.min(x1 - r, x0 + r), Math.min(y1 - r, y0 + r)];
      group.append(svg("circle", { cx: bx, cy: by, r, class: "xw-badge", fill: colour }), svg("text", { x: bx, y: by, class: "xw-badge-text", "font-size": r * 1.2, fill: inkOn(colour) }, String(n.number)));
      patchLayer.append(group);
      patchEls.set(n.id, group);
    }
  }

  // ---------------------------------------------------------------- graph view
  function buildGraph(g: GraphView | null): void {
    graphSvg.replaceChildren();
    nodeEls = new Map();
    edgeEls = new Map();
    if (g === null) return;
    const [w, hgt] = g.extent;
    const scale = DISPLAY_SIZE / Math.max(w, hgt);
    graphSvg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    graphSvg.setAttribute("width", String(Math.round(w * scale)));
    graphSvg.setAttribute("height", String(Math.round(hgt * scale)));
    graphSvg.setAttribute("aria-label", `Concept graph: ${g.nodes.length} concepts, ${g.edges.length} relations`);
    const onImage = model.get("graph_layout") === "patches";
    graphSvg.append(svg("rect", { x: 0, y: 0, width: w, height: g.band ?? hgt, class: "xw-graph-frame", "data-backdrop": String(onImage) }));
    drawBackdrop(onImage ? [Math.round(w * scale), Math.round((g.band ?? hgt) * scale)] : null);
    if (g.band !== null) {
      graphSvg.append(
        svg("line", { x1: 0, y1: g.band, x2: w, y2: g.band, class: "xw-band-line" }),
        svg("text", { x: w * 0.01, y: g.band + (hgt - g.band) * 0.2, class: "xw-band-label", "font-size": Math.max(w, hgt) * 0.035 }, "not found"),
      );
    }
    const lim = limit();
    const radius = new Map(g.nodes.map((n) => [n.id, nodeRadius(n.importance, g.extent)]));
    const edgeLayer = svg("g", { class: "xw-edges" });
    for (const e of g.edges) {
      const a = g.nodes[g.nodeIndex.get(e.source) as number];
      const b = g.nodes[g.nodeIndex.get(e.target) as number];
      const ra = radius.get(a.id) as number;
      const rb = radius.get(b.id) as number;
      const width = edgeWidth(e.contribution, lim, g.extent);
      const head = Math.max(width * 2.5, Math.max(w, hgt) * 0.02);
      const seg = rimToRim(a.pos, b.pos, ra, rb + head * 0.9);
      const group = svg("g", { class: "xw-edge", "data-testid": "xw-edge", "data-ref": e.id, "data-state": "none" });
      const colour = contributionColour(e.contribution, lim);
      if (seg !== null) {
        const [x1, y1, x2, y2] = seg;
        group.append(
          svg("line", { x1, y1, x2, y2, class: "xw-edge-halo", "stroke-width": width + Math.max(w, hgt) * 0.016 }),
          svg("line", { x1, y1, x2, y2, class: "xw-edge-case", "stroke-width": width + Math.max(w, hgt) * 0.005 }),
          svg("line", { x1, y1, x2, y2, class: "xw-edge-line", stroke: colour, "stroke-width": width }),
        );
        const ux = (x2 - x1) / Math.hypot(x2 - x1, y2 - y1);
        const uy = (y2 - y1) / Math.hypot(x2 - x1, y2 - y1);
        const tip = [x2 + ux * head, y2 + uy * head];
        const left = [x2 - uy * head * 0.5, y2 + ux * head * 0.5];
        const right = [x2 + uy * head * 0.5, y2 - ux * head * 0.5];
        group.append(svg("polygon", { points: `${tip.join(",")} ${left.join(",")} ${right.join(",")}`, class: "xw-edge-head", fill: colour }));
        group.append(svg("line", { x1, y1, x2: tip[0], y2: tip[1], class: "xw-edge-hit", "stroke-width": Math.max(w, hgt) * 0.04 }));
      }
      edgeLayer.append(group);
      edgeEls.set(e.id, group);
    }
    const nodeLayer = svg("g", { class: "xw-nodes" });
    const sel = selected();
    const tabbable = refKind(g, sel) === "node" ? sel : (g.nodes[0]?.id ?? "");
    for (const n of g.nodes) {
      const r = radius.get(n.id) as number;
      const group = svg("g", {
        class: "xw-node",
        "data-testid": "xw-node",
        "data-ref": n.id,
        "data-state": "none",
        "data-present": String(n.present),
        role: "button",
        tabindex: n.id === tabbable ? 0 : -1,
        "aria-label": nodeTooltip(n).join(", "),
        "aria-pressed": "false",
      });
      const [cx, cy] = n.pos;
      const colour = contributionColour(n.contribution, lim);
      group.append(
        svg("circle", { cx, cy, r: r * 1.45, class: "xw-node-halo" }),
        svg("circle", { cx, cy, r, class: "xw-node-disc", fill: colour }),
        svg("text", { x: cx, y: cy, class: "xw-node-text", "font-size": Math.max(r * 1.05, Math.max(w, hgt) * 0.03), fill: inkOn(colour) }, String(n.number)),
      );
      nodeLayer.append(group);
      nodeEls.set(n.id, group);
    }
    graphSvg.append(edgeLayer, nodeLayer);
  }

  /** The image, faint, under a graph laid out on it (`size` in CSS pixels; null: none). */
  function drawBackdrop(size: [number, number] | null): void {
    backdrop.hidden = size === null;
    if (size === null) return;
    const dpr = pixelRatio();
    backdrop.style.width = `${size[0]}px`;
    backdrop.style.height = `${size[1]}px`;
    backdrop.width = Math.max(1, Math.round(size[0] * dpr));
    backdrop.height = Math.max(1, Math.round(size[1] * dpr));
    const bctx = backdrop.getContext("2d");
    if (bctx === null) return;
    bctx.clearRect(0, 0, backdrop.width, backdrop.height);
    if (image.image) bctx.drawImage(image.image, 0, 0, backdrop.width, backdrop.height);
  }

  // ---------------------------------------------------------------- text view
  function buildText(g: GraphView | null): void {
    const c = classes[position()];
    question.textContent = c === undefined ? "" : c.question;
    question.dataset.kind = c !== undefined && c.index === model.get("predicted") ? "why" : "why-not";
    sentence.replaceChildren();
    phraseEls = [];
    phraseIndex = [];
    if (g === null || g.segments.length === 0) {
      sentence.append(h("span", "xw-muted", {}, "No sentence for this class."));
      return;
    }
    g.segments.forEach((s, i) => {
      if (s.kind === "") {
        sentence.append(document.createTextNode(s.text));
        return;
      }
      const colour = contributionColour(contributionOf(g, s.ref), limit());
      const span = h("span", "xw-phrase", {
        "data-testid": "xw-phrase",
        "data-kind": s.kind,
        "data-ref": s.ref,
        "data-state": "none",
        role: "button",
        tabindex: 0,
        "aria-pressed": "false",
      }, s.text);
      span.style.textDecorationColor = colour;
      sentence.append(span);
      phraseEls.push(span);
      phraseIndex.push(i);
    });
  }

  // ---------------------------------------------------------------- highlight
  function setState(el: Element, level: Level | undefined, isSelected: boolean): void {
    el.setAttribute("data-state", level ?? "none");
    el.setAttribute("data-selected", String(isSelected));
  }

  /** Light what goes with the preview (or else the selection) in every view; returns its ms. */
  function highlight(): number {
    const t0 = performance.now();
    const g = graph();
    const sel = keepSelection(g, selected());
    const active = refKind(g, preview) !== null ? preview : sel;
    const links = linksOf(g, active);
    for (const [id, el] of nodeEls) {
      setState(el, links.nodes.get(id), id === sel);
      el.setAttribute("aria-pressed", String(id === sel));
    }
    for (const [id, el] of edgeEls) setState(el, links.edges.get(id), id === sel);
    for (const [id, el] of patchEls) setState(el, links.nodes.get(id), id === sel);
    phraseEls.forEach((el, k) => {
      setState(el, links.segments.get(phraseIndex[k]), el.dataset.ref === sel);
      el.setAttribute("aria-pressed", String(el.dataset.ref === sel));
    });
    drawImage(litNodes(links));
    root.dataset.selected = sel;
    root.dataset.active = active;
    imageCaption.textContent = captionText(g, active, sel);
    const dt = performance.now() - t0;
    return dt;
  }

  function captionText(g: GraphView | null, active: string, sel: string): string {
    if (g === null) return "";
    const lines = tooltipOf(g, active);
    if (lines.length === 0) return "Click or hover a node, a patch or a phrase.";
    const prefix = active === sel ? "Selected" : "Showing";
    const kind = refKind(g, active);
    const absent = kind === "node" && !g.nodes[g.nodeIndex.get(active) as number].present && g.nodes[g.nodeIndex.get(active) as number].box === null;
    return `${prefix}: ${lines.slice(0, 2).join(" \u00b7 ")}${absent ? " \u00b7 not in the image" : ""}`;
  }

  // ---------------------------------------------------------------- tooltip
  function showTooltip(ref: string, x: number, y: number): void {
    const lines = tooltipOf(graph(), ref);
    if (lines.length === 0) return hideTooltip();
    tooltip.replaceChildren(...lines.map((line, i) => h("div", i === 0 ? "xw-tooltip-title" : null, {}, line)));
    tooltip.hidden = false;
    tooltip.dataset.ref = ref;
    const box = root.getBoundingClientRect();
    const left = Math.max(0, Math.min(x - box.left + 14, box.width - tooltip.offsetWidth - 4));
    const top = y - box.top + 16 + tooltip.offsetHeight > box.height ? y - box.top - tooltip.offsetHeight - 10 : y - box.top + 16;
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${Math.max(0, top)}px`;
  }

  function hideTooltip(): void {
    tooltip.hidden = true;
    delete tooltip.dataset.ref;
  }

  // ---------------------------------------------------------------- interaction
  /** Select `ref` ("" for none) in the class shown: set the trait, save, and highlight. */
  function select(ref: string): void {
    const t0 = performance.now();
    const next = keepSelection(graph(), ref);
    if (next !== selected()) {
      model.set("selected", next); // change:selected highlights
      model.save_changes();
    } else {
      highlight();
    }
    root.dataset.highlightMs = (performance.now() - t0).toFixed(3);
  }

  function setPreview(ref: string): void {
    if (ref === preview) return;
    preview = ref;
    highlight();
  }

  function refAt(target: EventTarget | null): string | null {
    const el = (target as Element | null)?.closest?.("[data-ref]");
    return el ? (el.getAttribute("data-ref") ?? null) : null;
  }

  for (const area of [graphSvg, patchLayer, sentence] as Array<HTMLElement | SVGSVGElement>) {
    const onClick = (event: Event): void => {
      const ref = refAt(event.target);
      if (ref !== null) select(clickSelection(selected(), ref));
    };
    const onOver = (event: Event): void => {
      const ref = refAt(event.target) ?? "";
      setPreview(ref);
      const p = event as PointerEvent;
      if (ref === "") hideTooltip();
      else showTooltip(ref, p.clientX, p.clientY);
    };
    const onMove = (event: Event): void => {
      const p = event as PointerEvent;
      if (!tooltip.hidden && tooltip.dataset.ref) showTooltip(tooltip.dataset.ref, p.clientX, p.clientY);
    };
    const onLeave = (): void => {
      setPreview("");
      hideTooltip();
    };
    area.addEventListener("click", onClick);
    area.addEventListener("pointerover", onOver);
    area.addEventListener("pointermove", onMove);
    area.addEventListener("pointerleave", onLeave);
    cleanups.push(() => {
      area.removeEventListener("click", onClick);
      area.removeEventListener("pointerover", onOver);
      area.removeEventListener("pointermove", onMove);
      area.removeEventListener("pointerleave", onLeave);
    });
  }

  /** Move the keyboard focus to node `id` (roving tabindex), previewing it. */
  function focusNode(id: string): void {
    const el = nodeEls.get(id);
    if (el === undefined) return;
    for (const [other, node] of nodeEls) node.setAttribute("tabindex", other === id ? "0" : "-1");
    el.focus();
  }

  function onFocus(event: Event): void {
    const ref = refAt(event.target);
    if (ref === null) return;
    setPreview(ref);
    const r = (event.target as Element).getBoundingClientRect();
    showTooltip(ref, r.right, r.bottom);
  }

  function onBlur(event: Event): void {
    const next = (event as FocusEvent).relatedTarget as Node | null;
    if (next !== null && (graphSvg.contains(next) || sentence.contains(next))) return;
    setPreview("");
    hideTooltip();
  }

  function onKey(event: KeyboardEvent): void {
    const ref = refAt(event.target);
    if (event.key === "Enter" || event.key === " ") {
      if (ref === null) return;
      event.preventDefault();
      select(clickSelection(selected(), ref));
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      select("");
      return;
    }
    if (!graphSvg.contains(event.target as Node)) return;
    const next = nextNode(graph(), ref ?? "", event.key);
    if (next === null) return;
    event.preventDefault();
    focusNode(next);
  }

  for (const area of [graphSvg, sentence] as Array<HTMLElement | SVGSVGElement>) {
    area.addEventListener("focusin", onFocus);
    area.addEventListener("focusout", onBlur);
    area.addEventListener("keydown", onKey as EventListener);
    cleanups.push(() => {
      area.removeEventListener("focusin", onFocus);
      area.removeEventListener("focusout", onBlur);
      area.removeEventListener("keydown", onKey as EventListener);
    });
  }

  // ---------------------------------------------------------------- class picker
  const classButtons: HTMLButtonElement[] = [];

  function buildClasses(): void {
    classList.replaceChildren();
    classButtons.length = 0;
    const predicted = model.get("predicted");
    classes.forEach((c, i) => {
      const why = c.index === predicted;
      const button = h("button", "xw-class", {
        type: "button",
        role: "radio",
        "data-testid": `xw-class-${i}`,
        "data-position": i,
        "data-kind": why ? "why" : "why-not",
        "aria-label": `${c.question} Probability ${formatProbability(c.probability)}`,
      });
      button.append(
        h("span", "xw-class-kind", {}, why ? "Why" : "Why not"),
        h("span", "xw-class-label", {}, c.label),
        h("span", "xw-class-prob", {}, formatProbability(c.probability)),
      );
      classList.append(button);
      classButtons.push(button);
    });
    checkRadio(classButtons, position());
  }

  function chooseClass(p: number, focus: boolean): void {
    const c = classes[p];
    if (c === undefined) return;
    if (focus) classButtons[p]?.focus();
    if (c.index === model.get("selected_class")) return;
    const t0 = performance.now();
    const keep = keepSelection(graphs[p] ?? null, selected());
    preview = "";
    hideTooltip();
    model.set("selected_class", c.index);
    if (keep !== selected()) model.set("selected", keep);
    model.save_changes();
    root.dataset.switchMs = (performance.now() - t0).toFixed(3);
  }

  cleanups.push(
    ...bindRadioGroup(classList, {
      selector: ".xw-class",
      position: (button) => Number(button.dataset.position),
      current: position,
      count: () => classes.length,
      choose: chooseClass,
    }),
  );

  // ---------------------------------------------------------------- opacity
  cleanups.push(
    listen(opacity, "input", () => {
      model.set("opacity", clampOpacity(Number(opacity.value), 0.45));
      model.save_changes();
    }),
  );

  function syncOpacity(): void {
    const v = clampOpacity(model.get("opacity"), 0.45);
    if (document.activeElement !== opacity || Number(opacity.value) !== v) opacity.value = String(v);
    opacityValue.textContent = `${Math.round(v * 100)}%`;
    opacityRow.hidden = sal === null;
  }

  // ---------------------------------------------------------------- trait -> view
  function showClass(): void {
    const g = graph();
    buildPatches(g);
    buildGraph(g);
    buildText(g);
    checkRadio(classButtons, position());
    root.dataset.class = String(model.get("selected_class"));
    veilKey = "";
    highlight();
  }

  function loadGraphs(): void {
    graphs = readOrReport(setError, "graphs", () => readGraphs(model.get("graphs"))) ?? [];
    setError("counts", graphs.length === classes.length ? null : `graphs holds ${graphs.length} graphs but classes lists ${classes.length}.`);
  }

  function loadClasses(): void {
    classes = readClassEntries(model.get("classes"));
    buildClasses();
    const c = classes.find((k) => k.index === model.get("predicted"));
    subtitle.textContent = c === undefined ? "" : `Predicted: ${c.label} (${formatProbability(c.probability)})`;
  }

  function loadMasks(): void {
    masks = readOrReport(setError, "masks", () => readMasks(model.get("masks"))) ?? { data: new Uint8Array(0), items: [] };
    veilKey = "";
  }

  function loadSaliency(): void {
    sal = readOrReport(setError, "saliency", () => readSaliency(model.get("saliency")));
    paintSaliency();
    syncOpacity();
  }

  function loadLimit(): void {
    tickMin.textContent = formatSigned(-limit());
    tickMax.textContent = formatSigned(limit());
  }

  function loadImage(): void {
    const loading = image.load(model.get("image"), () => {
      showClass();
      root.dataset.ready = "true";
    });
    if (!loading) return;
    sizeStage();
    showClass();
  }

  function loadText(): void {
    showText(title, model.get("title"));
  }

  const handlers: Array<[string, () => void]> = [
    ["change:selected", () => highlight()],
    ["change:selected_class", () => { preview = ""; hideTooltip(); showClass(); }],
    ["change:graphs", () => { loadGraphs(); showClass(); }],
    ["change:classes", () => { loadClasses(); loadGraphs(); showClass(); }],
    ["change:predicted", () => { loadClasses(); showClass(); }],
    ["change:limit", () => { loadLimit(); showClass(); }],
    ["change:masks", () => { loadMasks(); highlight(); }],
    ["change:saliency", () => { loadSaliency(); highlight(); }],
    ["change:opacity", () => { syncOpacity(); highlight(); }],
    ["change:colormap", () => { paintSaliency(); highlight(); }],
    ["change:image", loadImage],
    ["change:title", loadText],
    ["change:graph_layout", showClass],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadText();
  loadClasses();
  loadGraphs();
  loadMasks();
  loadSaliency();
  loadLimit();
  loadImage();

  return teardown(el, cleanups, () => {
    disposed = true;
    image.dispose();
  });
}

function area(b: [number, number, number, number] | null): number {
  return b === null ? 0 : (b[2] - b[0]) * (b[3] - b[1]);
}

function contributionOf(g: GraphView, ref: string): number {
  const n = g.nodeIndex.get(ref);
  if (n !== undefined) return g.nodes[n].contribution;
  const e = g.edgeIndex.get(ref);
  return e !== undefined ? g.edges[e].contribution : 0;
}

export type { WidgetModel };
export default { render };
