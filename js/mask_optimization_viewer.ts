// MaskOptimizationViewer: the masks of a mask optimisation over their images, live while the
// kernel optimises, then a step slider that scrubs through every kept step client-side.
//
// Traits (see xwidgets/widgets/mask_optimization_viewer.py for the contract):
//   images [{png, width, height}] (one per image) | rows [{image, label, detail}] (R) |
//   frames {seq, steps [T], masks {data, dtype, shape [T, R, H, W]}, losses {.. [T, R]} | null}
//     (the whole record at the kernel's last flush; {} before any) |
//   live {seq, step, start, kept, masks {.. [n, H, W]}, losses {.. [n]} | null} (the newest
//     callback: rows [start, start + n) of `step`) | kept_steps [..] (the browser drops others) |
//   step (shown when follow is off) | follow | row | opacity | colormap |
//   value_range "unit" | "frame" | "run" | title | status.
// The browser accumulates live frames in a FrameCache (pure logic, exported for vitest); a
// newer `frames` replaces the cache. Slider, play, row, opacity, colour map and range are all
// client-side; UI changes set the trait and call save_changes().

import { decodeArray, decodeShaped, type ArrayPayload } from "./lib/buffers";
import { colourBar } from "./lib/colourbar";
import { PositionPicker, bindDisplayControls, controlSection, displayControls, opacitySection } from "./lib/controls";
import { box, h, listen, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatValue } from "./lib/format";
import { ImageList, checkImagePayload, decodeFailures, type ImagePayload } from "./lib/image";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { mapRange, unionRange, type Display, type Range } from "./lib/normalise";
import { drawOverlay, fitCanvas, paintColourBar, paintHeat, pixelRatio, readColormap } from "./lib/overlay";
import { bindHover, clearReadout as showHint, showReadout } from "./lib/readout";
import { clampOpacity, clampSelection } from "./lib/selection";
import { StepControl, positionText } from "./lib/step_control";
import { MASK_VIEWER_CSS } from "./mask_optimization_viewer.styles";

// ------------------------------------------------------------------------------ pure logic

/** How mask values become colours: [0, 1]; each frame's min-max; the row's min-max over all kept frames. */
export const VALUE_RANGES = ["unit", "frame", "run"] as const;
export type ValueRange = (typeof VALUE_RANGES)[number];

export const VALUE_RANGE_LABELS: ReadonlyArray<[ValueRange, string]> = [
  ["unit", "0 to 1 (mask values)"],
  ["frame", "Each step min\u2013max"],
  ["run", "Whole run min\u2013max"],
];

export function isValueRange(value: unknown): value is ValueRange {
  return typeof value === "string" && (VALUE_RANGES as readonly string[]).includes(value);
}

export interface RowInfo {
  image: number;
  label: string;
  detail: string;
}

export function readRows(value: unknown): RowInfo[] {
  if (!Array.isArray(value)) return [];
  return value.map((r: Partial<RowInfo> | null, i) => ({
    image: Number.isInteger(Number(r?.image)) ? Number(r?.image) : 0,
    label: String(r?.label ?? `row ${i}`),
    detail: String(r?.detail ?? ""),
  }));
}

/** The `frames` trait, decoded: T steps of R rows of H x W masks (and T x R losses). */
export interface FrameSet {
  seq: number;
  steps: number[];
  rows: number;
  height: number;
  width: number;
  masks: Float32Array;
  losses: Float32Array | null;
}

/** One callback's masks (the `live` trait): rows [start, start + count) of `step`. */
export interface LiveFrame {
  seq: number;
  step: number;
  start: number;
  count: number;
  kept: boolean;
  height: number;
  width: number;
  masks: Float32Array;
  losses: Float32Array | null;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "object" && Object.keys(value as object).length === 0);
}

function asFloat(data: Float32Array | Uint8Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function readLosses(value: unknown, shape: number[], what: string): Float32Array | null {
  if (value === null || value === undefined) return null;
  const decoded = decodeArray(value as ArrayPayload);
  if (decoded.shape.join(",") !== shape.join(",")) {
    throw new RangeError(`${what}: expected shape [${shape.join(", ")}]; got [${decoded.shape.join(", ")}]`);
  }
  return asFloat(decoded.data);
}

/** Decode `frames` for `rows` rows; null for the empty state ({}). Throws on a bad payload. */
export function readFrames(value: unknown, rows: number): FrameSet | null {
  if (isEmpty(value)) return null;
  const v = value as { seq?: unknown; steps?: unknown; masks?: unknown; losses?: unknown };
  const steps = Array.isArray(v.steps) ? v.steps.map(Number) : [];
  if (steps.some((s) => !Number.isInteger(s))) throw new TypeError("frames.steps: expected integers");
  const decoded = decodeShaped(v.masks, "frames.masks", ["T", "R", "H", "W"]);
  const [t, r, height, width] = decoded.shape;
  if (t !== steps.length) throw new RangeError(`frames: ${t} frames of masks but ${steps.length} steps`);
  if (r !== rows) throw new RangeError(`frames: masks of ${r} rows but rows lists ${rows}`);
  return {
    seq: Number(v.seq ?? 0),
    steps,
    rows: r,
    height,
    width,
    masks: asFloat(decoded.data),
    losses: readLosses(v.losses, [t, r], "frames.losses"),
  };
}

/** Decode `live` for `rows` rows; null for the empty state. Throws on a bad payload. */
export function readLive(value: unknown, rows: number): LiveFrame | null {
  if (isEmpty(value)) return null;
  const v = value as { seq?: unknown; step?: unknown; start?: unknown; kept?: unknown; masks?: unknown; losses?: unknown };
  const decoded = decodeShaped(v.masks, "live.masks", ["n", "H", "W"]);
  const [count, height, width] = decoded.shape;
  const start = Number(v.start);
  const step = Number(v.step);
  if (!(Number.isInteger(start) && start >= 0 && start + count <= rows)) {
    throw new RangeError(`live: rows ${start} to ${start + count} do not fit the ${rows} rows`);
  }
  if (!Number.isInteger(step)) throw new TypeError(`live.step: expected an integer; got ${String(v.step)}`);
  return {
    seq: Number(v.seq ?? 0),
    step,
    start,
    count,
    kept: v.kept !== false,
    height,
    width,
    masks: asFloat(decoded.data),
    losses: readLosses(v.losses, [count], "live.losses"),
  };
}

interface Frame {
  masks: Float32Array; // rows * height * width, NaN where not optimised yet
  losses: Float32Array; // rows, NaN where unknown
}

/**
 * The frames the browser holds: step -> R masks of H x W and R losses. Filled from `frames`
 * (load) and from each `live` message (merge); `prune` keeps the steps the kernel keeps. A
 * live step the kernel did not keep is held as the one transient frame, so that it can be
 * shown while following.
 */
export class FrameCache {
  rows = 0;
  height = 0;
  width = 0;
  /** seq of the newest data merged (frames or live) */
  seq = 0;
  /** the step of the newest live message merged since the last load (null: none) */
  liveStep: number | null = null;
  private frames = new Map<number, Frame>();
  private transient: { step: number; frame: Frame } | null = null;

  get size(): number {
    return this.frames.size;
  }

  clear(): void {
    this.frames.clear();
    this.transient = null;
    this.liveStep = null;
    this.seq = 0;
  }

  private shape(rows: number, height: number, width: number): void {
    if (rows !== this.rows || height !== this.height || width !== this.width) {
      this.clear();
      this.rows = rows;
      this.height = height;
      this.width = width;
    }
  }

  private blank(): Frame {
    return {
      masks: new Float32Array(this.rows * this.height * this.width).fill(Number.NaN),
      losses: new Float32Array(this.rows).fill(Number.NaN),
    };
  }

  /** Replace everything with a decoded `frames` trait. */
  load(set: FrameSet): void {
    this.clear();
    this.rows = set.rows;
    this.height = set.height;
    this.width = set.width;
    const size = set.rows * set.height * set.width;
    set.steps.forEach((step, t) => {
      this.frames.set(step, {
        masks: set.masks.slice(t * size, (t + 1) * size),
        losses: set.losses === null ? new Float32Array(set.rows).fill(Number.NaN) : set.losses.slice(t * set.rows, (t + 1) * set.rows),
      });
    });
    this.seq = set.seq;
  }

  /** Merge one callback's rows into its step (`rows` rows in all). */
  merge(live: LiveFrame, rows: number): void {
    this.shape(rows, live.height, live.width);
    let frame = this.frames.get(live.step);
    if (frame === undefined) {
      if (live.kept) {
        frame = this.blank();
        this.frames.set(live.step, frame);
        this.transient = null;
      } else {
        if (this.transient?.step !== live.step) this.transient = { step: live.step, frame: this.blank() };
        frame = this.transient.frame;
      }
    }
    const size = this.height * this.width;
    frame.masks.set(live.masks, live.start * size);
    if (live.losses !== null) frame.losses.set(live.losses, live.start);
    this.seq = Math.max(this.seq, live.seq);
    this.liveStep = live.step;
  }

  /**
   * Keep only the `kept` steps (what the kernel keeps) and the newest live step (which the
   * kernel always keeps: its kept_steps may arrive in a later message).
   */
  prune(kept: readonly number[]): void {
    const keep = new Set(kept);
    if (this.liveStep !== null) keep.add(this.liveStep);
    for (const step of [...this.frames.keys()]) if (!keep.has(step)) this.frames.delete(step);
  }

  /** The kept steps, ascending. */
  steps(): number[] {
    return [...this.frames.keys()].sort((a, b) => a - b);
  }

  private frame(step: number): Frame | undefined {
    return this.frames.get(step) ?? (this.transient?.step === step ? this.transient.frame : undefined);
  }

  has(step: number): boolean {
    return this.frame(step) !== undefined;
  }

  /** The step shown while following: the newest live step, else the last kept one; null when empty. */
  newest(): number | null {
    if (this.liveStep !== null && this.has(this.liveStep)) return this.liveStep;
    const steps = this.steps();
    return steps.length ? steps[steps.length - 1] : null;
  }

  /** The whole masks array of `step` (row r at r * H * W), or null. */
  masksOf(step: number): Float32Array | null {
    return this.frame(step)?.masks ?? null;
  }

  loss(step: number, row: number): number {
    const l = this.frame(step)?.losses[row];
    return l === undefined ? Number.NaN : l;
  }

  /** The losses of `row` at every kept step (NaN where unknown). */
  lossSeries(row: number): { steps: number[]; values: Float32Array } {
    const steps = this.steps();
    const values = new Float32Array(steps.length);
    steps.forEach((s, i) => (values[i] = this.loss(s, row)));
    return { steps, values };
  }

  /** [min, max] of `row`'s finite mask values over every kept frame. */
  runRange(row: number): Range {
    const size = this.height * this.width;
    return unionRange(
      this.steps()
        .map((s) => mapRange(this.frames.get(s)!.masks, row * size, size))
        .filter((r) => !(r.min === 0 && r.max === 0)),
    );
  }
}

/** The position in ascending `steps` of the step nearest `step` (ties: the lower); 0 when empty. */
export function nearestIndex(steps: readonly number[], step: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) {
    if (Math.abs(steps[i] - step) < Math.abs(steps[best] - step)) best = i;
  }
  return best;
}

/** The value range a mask is drawn with under `mode`. */
export function maskRange(mode: ValueRange, cache: FrameCache, step: number, row: number): Range {
  if (mode === "unit") return { min: 0, max: 1 };
  if (mode === "run") return cache.runRange(row);
  const masks = cache.masksOf(step);
  const size = cache.height * cache.width;
  return masks === null ? { min: 0, max: 1 } : mapRange(masks, row * size, size);
}

/**
 * The points of a line plot of `values` (NaN: a gap, null) over a `width` x `height` box
 * with `pad` pixels of margin: x evenly spaced, y from the finite values' [min, max] (the
 * largest value at the top). A flat series lies in the middle.
 */
export function sparkline(values: ArrayLike<number>, width: number, height: number, pad = 3): Array<{ x: number; y: number } | null> {
  const n = values.length;
  const range = mapRange(values);
  const span = range.max - range.min;
  const out: Array<{ x: number; y: number } | null> = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out.push(null);
      continue;
    }
    const x = n === 1 ? width / 2 : pad + (i / (n - 1)) * (width - 2 * pad);
    const t = span > 0 ? (v - range.min) / span : 0.5;
    out.push({ x, y: height - pad - t * (height - 2 * pad) });
  }
  return out;
}

/** "Step 120 · loss 0.4321" (the loss only when known). */
export function stepText(step: number | null, loss: number, live: boolean): string {
  if (step === null) return "No masks yet";
  const parts = [`Step ${step}`];
  if (Number.isFinite(loss)) parts.push(`loss ${formatValue(loss)}`);
  if (live) parts.push("live");
  return parts.join(" \u00b7 ");
}

// ------------------------------------------------------------------------------ the widget

/** Longest side of the drawn image in CSS pixels. */
const DISPLAY_SIZE = 320;
const SPARK_W = 240;
const SPARK_H = 56;
/** Milliseconds per frame when playing. */
const PLAY_INTERVAL = 120;

function readValueRange(model: WidgetModel): ValueRange {
  const v = model.get("value_range");
  return isValueRange(v) ? v : "unit";
}

/** The row picker's button: the row's label, and its detail under it. */
function rowButton(r: RowInfo, position: number): HTMLButtonElement {
  const button = h("button", "xw-row", { type: "button", role: "radio", "data-testid": `xw-row-${position}`, "data-position": position });
  button.append(h("span", "xw-row-label", {}, r.label));
  if (r.detail) button.append(h("span", "xw-row-detail", {}, r.detail));
  return button;
}

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  let disposed = false;

  // ---------------------------------------------------------------- DOM
  const { root, header, title, error, setError } = widgetFrame("maskopt", MASK_VIEWER_CSS);
  const status = h("div", "xw-status", { "data-testid": "xw-status", "aria-live": "polite" });
  header.append(status);

  const stage = h("figure", "xw-stage");
  const canvas = h("canvas", "xw-canvas", { "data-testid": "xw-canvas", role: "img", width: 1, height: 1 });
  const caption = h("figcaption", "xw-step-text", { "data-testid": "xw-step-text", "aria-live": "off" });
  const uid = uniqueId("xw-mo");
  const stepper = new StepControl({ uid, name: "step", label: "Step", playLabel: "Play the steps", interval: PLAY_INTERVAL, root });
  const { slider, play } = stepper;
  const followLabel = h("label", "xw-follow");
  const followBox = h("input", null, { type: "checkbox", "data-testid": "xw-follow" });
  followLabel.append(followBox, document.createTextNode(" Follow the newest step"));
  const readout = h("div", "xw-readout", { "data-testid": "xw-readout", "data-active": "false" });
  stage.append(canvas, caption, stepper.row, followLabel, readout);

  const panel = h("div", "xw-panel");
  const controls = displayControls({ uid, colormapClass: "xw-select", scaleClass: "xw-select", scaleText: "Scale" });

  const rowPicker = new PositionPicker(model, cleanups, {
    trait: "row", sectionClass: "xw-rows", listClass: "xw-row-list", selector: ".xw-row", label: "Image and target",
    testid: "xw-rows", current: () => currentRow(), count: () => rows.length, make: rowButton,
  });

  const rangeLabel = h("label", "xw-heading", { for: `${uid}-range` }, "Value range");
  const rangeSelect = h("select", "xw-select", { id: `${uid}-range`, "data-testid": "xw-value-range" });
  for (const [value, text] of VALUE_RANGE_LABELS) rangeSelect.append(h("option", null, { value }, text));

  const colorbar = colourBar("Mask value");

  const lossSection = h("div", "xw-control xw-loss", { "data-testid": "xw-loss" });
  const lossHeading = h("div", "xw-heading", {}, "Loss");
  const spark = h("canvas", "xw-spark", { "data-testid": "xw-spark", role: "img", "aria-label": "Loss at each kept step" });
  lossSection.append(lossHeading, spark);

  panel.append(
    rowPicker.section,
    opacitySection(controls, "panel"),
    controlSection(controls.colormapLabel, controls.colormap),
    controlSection(rangeLabel, rangeSelect),
    colorbar.root,
    lossSection,
  );
  root.append(box("xw-body", stage, panel), error);
  el.replaceChildren(root);

  // ---------------------------------------------------------------- state
  const cache = new FrameCache();
  let rows: RowInfo[] = [];
  const images = new ImageList();
  let sizes: Array<{ width: number; height: number }> = [];
  let askedSync = false;
  const heat = document.createElement("canvas");
  let display: Display = { range: { min: 0, max: 1 }, signed: false };
  const ctx = canvas.getContext("2d");

  const currentRow = (): number => clampSelection(model.get("row"), rows.length);
  const following = (): boolean => model.get("follow") !== false;

  /** The step drawn now: the newest while following, else the kept step nearest `step`. */
  function shownStep(): number | null {
    const steps = cache.steps();
    if (following()) return cache.newest();
    if (steps.length === 0) return cache.newest();
    const s = Number(model.get("step"));
    return cache.has(s) ? s : steps[nearestIndex(steps, s)];
  }

  function sizeCanvas(): void {
    fitCanvas(canvas, sizes[rows[currentRow()]?.image ?? 0] ?? sizes[0] ?? { width: 1, height: 1 }, DISPLAY_SIZE);
  }

  function draw(): void {
    if (disposed || ctx === null) return;
    const step = shownStep();
    const row = currentRow();
    const masks = step === null ? null : cache.masksOf(step);
    let drawn = false;
    if (masks !== null && rows.length > 0) {
      display = { range: maskRange(readValueRange(model), cache, step as number, row), signed: false };
      drawn = paintHeat(heat, masks, row, cache.height, cache.width, display, readColormap(model));
    }
    const info = rows[row];
    drawOverlay(ctx, canvas, info ? images.images[info.image] : images.images[0], drawn ? heat : null, clampOpacity(model.get("opacity")));
    paintColourBar(colorbar.ramp, colorbar.min, colorbar.max, drawn ? display : null, readColormap(model));
    const loss = step === null ? Number.NaN : cache.loss(step, row);
    caption.textContent = stepText(step, loss, following() && step !== null && cache.liveStep === step && !stepper.playing);
    root.dataset.step = step === null ? "" : String(step);
    canvas.setAttribute("aria-label", info ? `${info.label}: mask at ${caption.textContent}` : "Image with its mask overlaid");
    syncSlider(step);
    drawSpark(step);
  }

  // ---------------------------------------------------------------- slider, follow, play
  function syncSlider(step: number | null): void {
    const steps = cache.steps();
    const index = step === null ? 0 : nearestIndex(steps, step);
    stepper.sync(index, steps.length, step === null ? "" : positionText(index, steps.length), step === null ? "no steps" : `step ${step}`);
    followBox.checked = following();
  }

  /** Show kept step number `index`; follow when it is the last one (unless playing). */
  function showIndex(index: number, save: boolean): void {
    const steps = cache.steps();
    if (steps.length === 0) return;
    const i = Math.max(0, Math.min(steps.length - 1, Math.trunc(index)));
    const atEnd = i === steps.length - 1 && !stepper.playing;
    model.set("step", steps[i]);
    model.set("follow", atEnd);
    draw();
    if (save) model.save_changes();
  }

  function stopPlaying(save: boolean): void {
    if (!stepper.stop()) return;
    draw();
    if (save) model.save_changes();
  }

  cleanups.push(
    listen(slider, "input", () => {
      stopPlaying(false);
      showIndex(Number(slider.value), true);
    }),
    listen(followBox, "change", () => {
      stopPlaying(false);
      model.set("follow", followBox.checked);
      if (!followBox.checked) {
        const s = cache.newest();
        if (s !== null) model.set("step", s);
      }
      draw();
      model.save_changes();
    }),
    listen(play, "click", () => {
      if (stepper.playing) return stopPlaying(true);
      const steps = cache.steps();
      if (steps.length < 2) return;
      let index = nearestIndex(steps, shownStep() ?? steps[0]);
      if (index >= steps.length - 1) index = -1; // from the start again
      stepper.start(() => {
        index += 1;
        const last = cache.steps().length - 1;
        showIndex(index, false);
        if (index >= last) stopPlaying(true);
      });
    }),
  );

  // ---------------------------------------------------------------- loss sparkline
  function drawSpark(step: number | null): void {
    const { steps, values } = cache.lossSeries(currentRow());
    const known = values.some((v) => Number.isFinite(v));
    lossSection.hidden = !known;
    if (!known) return;
    const dpr = pixelRatio();
    spark.style.width = `${SPARK_W}px`;
    spark.style.height = `${SPARK_H}px`;
    if (spark.width !== SPARK_W * dpr) spark.width = SPARK_W * dpr;
    if (spark.height !== SPARK_H * dpr) spark.height = SPARK_H * dpr;
    const c = spark.getContext("2d");
    if (c === null) return;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, SPARK_W, SPARK_H);
    const styles = getComputedStyle(root);
    const fg = styles.getPropertyValue("--xw-accent").trim() || "#1f6feb";
    const muted = styles.getPropertyValue("--xw-muted").trim() || "#59636e";
    const points = sparkline(values, SPARK_W, SPARK_H);
    c.strokeStyle = fg;
    c.lineWidth = 1.5;
    c.beginPath();
    let pen = false;
    for (const p of points) {
      if (p === null) {
        pen = false;
        continue;
      }
      if (pen) c.lineTo(p.x, p.y);
      else c.moveTo(p.x, p.y);
      pen = true;
    }
    c.stroke();
    if (step !== null && steps.length) {
      const p = points[nearestIndex(steps, step)];
      const x = p?.x ?? (steps.length === 1 ? SPARK_W / 2 : 3 + (nearestIndex(steps, step) / (steps.length - 1)) * (SPARK_W - 6));
      c.strokeStyle = muted;
      c.lineWidth = 1;
      c.beginPath();
      c.moveTo(Math.round(x) + 0.5, 0);
      c.lineTo(Math.round(x) + 0.5, SPARK_H);
      c.stroke();
      if (p) {
        c.fillStyle = fg;
        c.beginPath();
        c.arc(p.x, p.y, 3, 0, 2 * Math.PI);
        c.fill();
      }
    }
    const range = mapRange(values);
    spark.setAttribute("aria-label", `Loss at each kept step, from ${formatValue(range.min)} to ${formatValue(range.max)}`);
  }

  // ---------------------------------------------------------------- row picker
  function buildRows(): void {
    rowPicker.fill(rows);
    rowPicker.section.hidden = rows.length <= 1;
  }

  // ---------------------------------------------------------------- display controls
  const sync = bindDisplayControls(model, controls, cleanups);
  cleanups.push(
    listen(rangeSelect, "change", () => {
      if (!isValueRange(rangeSelect.value)) return;
      model.set("value_range", rangeSelect.value);
      model.save_changes();
    }),
  );

  // ---------------------------------------------------------------- hover read-out
  const clearReadout = (): void => showHint(readout, "Hover over the image to read the mask value.");
  /** The masks of the step shown, null for none. */
  const shownMasks = (): Float32Array | null => {
    const step = shownStep();
    return step === null ? null : cache.masksOf(step);
  };

  cleanups.push(
    ...bindHover(
      canvas,
      () => (shownMasks() === null ? null : { rows: cache.height, cols: cache.width }),
      (cell) => {
        const masks = shownMasks();
        if (masks === null) return;
        const value = masks[currentRow() * cache.height * cache.width + cell.index];
        showReadout(readout, `Step ${shownStep()}: ${formatValue(value)} at (x ${cell.col}, y ${cell.row})`, value);
      },
      clearReadout,
    ),
  );

  // ---------------------------------------------------------------- trait -> view
  function loadRows(): void {
    rows = readRows(model.get("rows"));
    buildRows();
  }

  /** `frames` replaces the cache when it is at least as new; then the newest `live` on top. */
  function loadFrames(): void {
    try {
      const set = readFrames(model.get("frames"), rows.length);
      if (set === null) cache.clear();
      else cache.load(set);
      setError("frames", null);
    } catch (e) {
      setError("frames", `Cannot read the frames: ${(e as Error).message}.`);
    }
    loadLive(true);
  }

  function loadLive(initial = false): void {
    let live: LiveFrame | null;
    try {
      live = readLive(model.get("live"), rows.length);
      setError("live", null);
    } catch (e) {
      setError("live", `Cannot read the newest masks: ${(e as Error).message}.`);
      return;
    }
    if (live === null || live.seq <= cache.seq) return;
    if (initial && live.seq > cache.seq + 1 && !askedSync) {
      // This view missed callbacks (it opened mid-run or after it): ask for the record.
      askedSync = true;
      model.send({ type: "sync" });
    }
    cache.merge(live, rows.length);
    cache.prune(keptSteps());
  }

  function keptSteps(): number[] {
    const kept = model.get("kept_steps");
    return Array.isArray(kept) ? kept.map(Number) : [];
  }

  function loadImages(): void {
    const value = model.get("images");
    const payloads: ImagePayload[] = [];
    try {
      if (!Array.isArray(value)) throw new TypeError("expected a list of {png, width, height}");
      sizes = value.map((p) => checkImagePayload(p));
      payloads.push(...(value as ImagePayload[]));
      setError("images", null);
    } catch (e) {
      images.supersede();
      setError("images", `Cannot read the images: ${(e as Error).message}.`);
      return;
    }
    sizeCanvas();
    draw();
    images.decode(payloads, (results) => {
      const failed = decodeFailures(results);
      setError("decode", failed.length ? `Cannot decode ${failed.join("; ")}.` : null);
      root.dataset.ready = "true";
      draw();
    });
  }

  function loadText(): void {
    showText(title, model.get("title"));
    showText(status, model.get("status"));
  }

  const handlers: Array<[string, () => void]> = [
    ["change:rows", () => { loadRows(); loadFrames(); sizeCanvas(); draw(); }],
    ["change:frames", () => { loadFrames(); draw(); }],
    ["change:live", () => { loadLive(); draw(); }],
    ["change:kept_steps", () => { cache.prune(keptSteps()); draw(); }],
    ["change:step", draw],
    ["change:follow", () => { if (following()) stopPlaying(false); draw(); }],
    ["change:row", () => { rowPicker.check(); sizeCanvas(); draw(); clearReadout(); }],
    ["change:opacity", () => { sync.opacity(); draw(); }],
    ["change:colormap", () => { sync.colormap(); draw(); }],
    ["change:value_range", () => { rangeSelect.value = readValueRange(model); draw(); }],
    ["change:images", loadImages],
    ["change:title", loadText],
    ["change:status", loadText],
  ];
  cleanups.push(...subscribe(model, handlers));

  loadRows();
  loadFrames();
  loadText();
  sync.opacity();
  sync.colormap();
  rangeSelect.value = readValueRange(model);
  clearReadout();
  loadImages();

  return teardown(el, cleanups, () => {
    disposed = true;
    stepper.dispose();
    images.dispose();
  });
}

export type { WidgetModel };
export default { render };
