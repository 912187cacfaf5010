// AttentionFlowViewer: DAAM's attention flow through a ViT over its image, block by block
// (Liao, Gao & Zhang, Dynamic Accumulated Attention Map, Pattern Recognition 2025).
//
// Traits (see xwidgets/widgets/attention_flow_viewer.py for the contract):
//   image {png, width, height} | block_maps, flow, accumulated {data, dtype, shape [R, L, h, w]}
//   (each block's own map, the displayed accumulated flow, the raw sums; R class rows, L
//   blocks, the patch grid) | blocks [L names] | classes [{index, label, probability}] (R) |
//   selected (class position) | block (0-based) | view "accumulated" | "block" | opacity |
//   colormap | title | method.
// Every map arrives once: the block slider, play, the view toggle, the class picker, opacity
// and colour map are all client-side; UI changes set the trait and call save_changes().
// Both kinds of map lie in [0, 1] and are coloured on that fixed range.

import { decodeShaped } from "./lib/buffers";
import { colourBar } from "./lib/colourbar";
import { PositionPicker, bindDisplayControls, bindRadioGroup, checkRadio, classButton, controlSection, displayControls, opacitySection } from "./lib/controls";
import { box, h, listen, readOrReport, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatValue } from "./lib/format";
import { ImageSlot } from "./lib/image";
import { readClasses, type ClassInfo } from "./lib/methods";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import type { Display } from "./lib/normalise";
import { drawOverlay, fitCanvas, paintColourBar, paintHeat, readColormap } from "./lib/overlay";
import { bindHover, clearReadout as showHint, showReadout } from "./lib/readout";
import { clampOpacity, clampSelection } from "./lib/selection";
import { StepControl, positionText } from "./lib/step_control";
import { ATTENTION_FLOW_CSS } from "./attention_flow_viewer.styles";

// ------------------------------------------------------------------------------ pure logic

/** What is drawn: the flow accumulated up to the block, or the block's own map. */
export const VIEWS = ["accumulated", "block"] as const;
export type View = (typeof VIEWS)[number];

export const VIEW_LABELS: ReadonlyArray<[View, string]> = [
  ["accumulated", "Accumulated"],
  ["block", "This block"],
];

export function isView(value: unknown): value is View {
  return typeof value === "string" && (VIEWS as readonly string[]).includes(value);
}

/** The `view` trait, "accumulated" when it is not a known view. */
export function readView(value: unknown): View {
  return isView(value) ? value : "accumulated";
}

/** A decoded [R, L, h, w] array: R class rows of L blocks of h x w maps. */
export interface FlowMaps {
  data: Float32Array;
  rows: number;
  blocks: number;
  height: number;
  width: number;
}

/** Decode one of the map traits (`name` for messages); throws a RangeError on a bad shape. */
export function readFlowMaps(value: unknown, name: string): FlowMaps {
  const decoded = decodeShaped(value, name, ["R", "L", "h", "w"]);
  const [rows, blocks, height, width] = decoded.shape;
  const data = decoded.data instanceof Float32Array ? decoded.data : Float32Array.from(decoded.data);
  return { data, rows, blocks, height, width };
}

/** Throws when `other` (named `name`) does not have the shape of `ref` (block_maps). */
export function checkSameShape(ref: FlowMaps, other: FlowMaps, name: string): void {
  const a = [ref.rows, ref.blocks, ref.height, ref.width];
  const b = [other.rows, other.blocks, other.height, other.width];
  if (a.join(",") !== b.join(",")) {
    throw new RangeError(`${name}: expected the shape of block_maps [${a.join(", ")}]; got [${b.join(", ")}]`);
  }
}

/** Index of the (row, block) map in a flattened [R, L, h, w] array, in maps of h x w. */
export function mapIndex(row: number, block: number, blocks: number): number {
  return row * blocks + block;
}

/** The value of cell `cell` (row-major index in h x w) of map (row, block). */
export function valueAt(maps: FlowMaps, row: number, block: number, cell: number): number {
  return maps.data[mapIndex(row, block, maps.blocks) * maps.height * maps.width + cell];
}

/** "Accumulated flow, blocks 1–4 of 6" or "Block 4 of 6" (blocks counted from 1). */
export function captionText(view: View, block: number, blocks: number): string {
  if (blocks <= 0) return "No blocks";
  const n = block + 1;
  if (view === "block") return `Block ${n} of ${blocks}`;
  return n === 1 ? `Accumulated flow, block 1 of ${blocks}` : `Accumulated flow, blocks 1\u2013${n} of ${blocks}`;
}

/** The hover read-out of a cell: the value drawn, then the other two. */
export function readoutText(view: View, block: number, values: { flow: number; sum: number; own: number }, col: number, row: number): string {
  const n = block + 1;
  const span = n === 1 ? "block 1" : `blocks 1\u2013${n}`;
  const flow = `flow ${formatValue(values.flow)} (sum of ${span}: ${formatValue(values.sum)})`;
  const own = `block ${n} map ${formatValue(values.own)}`;
  const parts = view === "block" ? [own, flow] : [flow, own];
  return `${parts.join(" \u00b7 ")} at (x ${col}, y ${row})`;
}

/** The block after `block` when playing; null after the last. */
export function nextBlock(block: number, blocks: number): number | null {
  return block + 1 < blocks ? block + 1 : null;
}

/** The block a play starts from: the next one, or the first when at the last. */
export function playStart(block: number, blocks: number): number {
  return block >= blocks - 1 ? 0 : block;
}

// ------------------------------------------------------------------------------ the widget

/** Longest side of the drawn image in CSS pixels. */
const DISPLAY_SIZE = 320;
/** Milliseconds per block when playing. */
const PLAY_INTERVAL = 450;
/** Both kinds of map lie in [0, 1]: one fixed colour range, so the flow's growth shows. */
const UNIT: Display = { range: { min: 0, max: 1 }, signed: false };

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const { root, header, title, error, setError } = widgetFrame("attnflow", ATTENTION_FLOW_CSS);
  const method = h("div", "xw-method", { "data-testid": "xw-method" });
  header.append(method);

  const uid = uniqueId("xw-af");
  const stage = h("figure", "xw-stage");
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-canvas", role: "img", width: 1, height: 1 });
  const caption = h("figcaption", "xw-caption", { "data-testid": "xw-caption" });
  const blockName = h("div", "xw-block-name", { "data-testid": "xw-block-name" });
  const stepper = new StepControl({ uid, name: "block", label: "Block", playLabel: "Play the blocks", interval: PLAY_INTERVAL, root });
  const { slider, play } = stepper;
  const viewList = h("div", "xw-view-list", { role: "radiogroup", "aria-label": "Show", "data-testid": "xw-views" });
  const viewButtons = VIEW_LABELS.map(([value, text], i) =>
    h("button", "xw-view", { type: "button", role: "radio", "data-testid": `xw-view-${value}`, "data-position": i }, text),
  );
  viewList.append(...viewButtons);
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "aria-live": "polite", "data-active": "false" });
  stage.append(canvas, caption, blockName, stepper.row, viewList, readout);

  const panel = h("div", "xw-panel");
  const controls = displayControls({ uid, colormapClass: "xw-select", scaleClass: "xw-select", scaleText: "Scale" });
  const classPicker = new PositionPicker(model, cleanups, {
    trait: "selected", sectionClass: "xw-classes", listClass: "xw-class-list", selector: ".xw-class", label: "Class",
    testid: "xw-classes", current: () => currentRow(), count: () => classes.length, make: classButton,
  });

  const note = h(
    "div",
    "xw-note",
    {},
    "Block maps are min\u2013max normalised; the flow is their running sum, shown with DAAM's display mapping (relative to the maximum of the sum over all blocks).",
  );
  const colorbar = colourBar("Map value", note);

  panel.append(
    classPicker.section,
    opacitySection(controls, "panel"),
    controlSection(controls.colormapLabel, controls.colormap),
    colorbar.root,
  );
  root.append(box("xw-body", stage, panel), error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  let own: FlowMaps | null = null;
  let flow: FlowMaps | null = null;
  let sums: FlowMaps | null = null;
  let names: string[] = [];
  let classes: ClassInfo[] = [];
  const image = new ImageSlot(setError);
  const heat = document.createElement("canvas");
  const ctx = canvas.getContext("2d");

  const numBlocks = (): number => own?.blocks ?? names.length;
  const currentBlock = (): number => clampSelection(model.get("block"), numBlocks());
  const currentRow = (): number => clampSelection(model.get("selected"), classes.length);
  const currentView = (): View => readView(model.get("view"));

  function draw(): void {
    if (disposed || ctx === null) return;
    const view = currentView();
    const block = currentBlock();
    const row = currentRow();
    const maps = view === "block" ? own : flow;
    let drawn = false;
    if (maps !== null && maps.rows > 0 && maps.blocks > 0) {
      const r = Math.min(row, maps.rows - 1);
      drawn = paintHeat(heat, maps.data, mapIndex(r, block, maps.blocks), maps.height, maps.width, UNIT, readColormap(model));
    }
    drawOverlay(ctx, canvas, image.image, drawn ? heat : null, clampOpacity(model.get("opacity")));
    paintColourBar(colorbar.ramp, colorbar.min, colorbar.max, drawn ? UNIT : null, readColormap(model));
    const blocks = numBlocks();
    caption.textContent = captionText(view, block, blocks);
    blockName.textContent = names[block] ?? "";
    const c = classes[row];
    canvas.setAttribute("aria-label", `${caption.textContent}${c ? ` for class ${c.label}` : ""}, over the image`);
    root.dataset.block = String(block);
    root.dataset.view = view;
    syncSlider(block, blocks);
    checkRadio(viewButtons, VIEWS.indexOf(view));
  }

  // ---------------------------------------------------------------- block slider, play
  function syncSlider(block: number, blocks: number): void {
    const some = blocks > 0;
    stepper.sync(block, blocks, some ? positionText(block, blocks) : "", some ? `block ${block + 1} of ${blocks}` : "no blocks");
  }

  function setBlock(block: number, save: boolean): void {
    const b = clampSelection(block, numBlocks());
    model.set("block", b);
    draw();
    if (save) model.save_changes();
  }

  function stopPlaying(save: boolean): void {
    if (stepper.stop() && save) model.save_changes();
  }

  cleanups.push(
    listen(slider, "input", () => {
      stopPlaying(false);
      setBlock(Number(slider.value), true);
    }),
    listen(play, "click", () => {
      if (stepper.playing) return stopPlaying(true);
      const blocks = numBlocks();
      if (blocks < 2) return;
      setBlock(playStart(currentBlock(), blocks), false);
      stepper.start(() => {
        const next = nextBlock(currentBlock(), numBlocks());
        if (next === null) return stopPlaying(true);
        setBlock(next, false);
        if (nextBlock(next, numBlocks()) === null) stopPlaying(true);
      });
    }),
  );

  // ---------------------------------------------------------------- view toggle
  function chooseView(position: number, focus: boolean): void {
    const p = clampSelection(position, VIEWS.length);
    if (focus) viewButtons[p]?.focus();
    if (VIEWS[p] === model.get("view")) return;
    model.set("view", VIEWS[p]);
    draw();
    model.save_changes();
  }

  cleanups.push(
    ...bindRadioGroup(viewList, {
      selector: ".xw-view",
      position: (button) => Number(button.dataset.position),
      current: () => VIEWS.indexOf(currentView()),
      count: () => VIEWS.length,
      choose: chooseView,
    }),
  );

  // ---------------------------------------------------------------- class picker
  function buildClasses(): void {
    classPicker.fill(classes);
    classPicker.section.hidden = classes.length <= 1;
  }

  // ---------------------------------------------------------------- display controls
  const sync = bindDisplayControls(model, controls, cleanups);

  // ---------------------------------------------------------------- hover read-out
  const clearReadout = (): void => showHint(readout, "Hover over the image to read the maps.");

  cleanups.push(
    ...bindHover(
      canvas,
      () => (own === null || flow === null || sums === null || own.rows === 0 ? null : { rows: own.height, cols: own.width }),
      (cell) => {
        if (own === null || flow === null || sums === null) return;
        const row = Math.min(currentRow(), own.rows - 1);
        const block = currentBlock();
        const view = currentView();
        const values = {
          flow: valueAt(flow, row, block, cell.index),
          sum: valueAt(sums, row, block, cell.index),
          own: valueAt(own, row, block, cell.index),
        };
        showReadout(readout, readoutText(view, block, values, cell.col, cell.row), view === "block" ? values.own : values.flow);
      },
      clearReadout,
    ),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadMaps(): void {
    own = readOrReport(setError, "block maps", () => readFlowMaps(model.get("block_maps"), "block_maps"));
    flow = readOrReport(setError, "flow", () => {
      const f = readFlowMaps(model.get("flow"), "flow");
      if (own !== null) checkSameShape(own, f, "flow");
      return f;
    });
    sums = readOrReport(setError, "accumulated maps", () => {
      const s = readFlowMaps(model.get("accumulated"), "accumulated");
      if (own !== null) checkSameShape(own, s, "accumulated");
      return s;
    });
    checkCounts();
  }

  function loadNames(): void {
    const value = model.get("blocks");
    names = Array.isArray(value) ? value.map(String) : [];
    checkCounts();
  }

  function loadClasses(): void {
    classes = readClasses(model.get("classes"));
    buildClasses();
    checkCounts();
  }

  function checkCounts(): void {
    const problems: string[] = [];
    if (own !== null && own.rows !== classes.length) problems.push(`block_maps hold ${own.rows} classes but classes lists ${classes.length}`);
    if (own !== null && names.length !== own.blocks) problems.push(`block_maps hold ${own.blocks} blocks but blocks lists ${names.length}`);
    setError("counts", problems.length ? `${problems.join("; ")}.` : null);
  }

  function loadImage(): void {
    const loading = image.load(model.get("image"), () => {
      root.dataset.ready = "true";
      draw();
    });
    if (!loading) return;
    fitCanvas(canvas, image.size, DISPLAY_SIZE);
    draw();
  }

  function loadText(): void {
    showText(title, model.get("title"));
    showText(method, model.get("method"));
  }

  const handlers: Array<[string, () => void]> = [
    ["change:block", () => { draw(); clearReadout(); }],
    ["change:view", () => { draw(); clearReadout(); }],
    ["change:selected", () => { classPicker.check(); draw(); clearReadout(); }],
    ["change:opacity", () => { sync.opacity(); draw(); }],
    ["change:colormap", () => { sync.colormap(); draw(); }],
    ["change:block_maps", () => { loadMaps(); draw(); clearReadout(); }],
    ["change:flow", () => { loadMaps(); draw(); clearReadout(); }],
    ["change:accumulated", () => { loadMaps(); clearReadout(); }],
    ["change:blocks", () => { loadNames(); draw(); }],
    ["change:classes", () => { loadClasses(); draw(); }],
    ["change:image", loadImage],
    ["change:title", loadText],
    ["change:method", loadText],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadNames();
  loadClasses();
  loadMaps();
  loadText();
  sync.opacity();
  sync.colormap();
  clearReadout();
  loadImage();

  return teardown(el, cleanups, () => {
    disposed = true;
    stepper.dispose();
    image.dispose();
  });
}

export type { WidgetModel };
export default { render };
