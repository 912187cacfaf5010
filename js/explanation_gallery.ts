// ExplanationGallery: many images' explanations as thumbnails, filtered by class (of the
// prediction or of the truth) and by correctness; a click opens one in the ConceptExplorer
// (VRX's structural concept graphs, Ge et al., CVPR 2021) drawn below the grid.
//
// The explorer is this bundle's own copy of js/concept_explorer.ts, rendered on a child
// model: its data comes from `explorers[opened]` (every explanation sent up front, as in
// reports) or from `explorer` (the opened one, sent by the kernel when `opened` changes);
// its `selected`, `selected_class`, `opacity` and `colormap` are the gallery's traits, so
// Python reads and sets the explorer's selection on the gallery. No widget manager and no
// kernel is needed to open a preloaded item: the same code runs in JupyterLab, in offline
// reports and in exported notebooks.
//
// Traits (see xwidgets/widgets/explanation_gallery.py for the contract): items [{title,
// predicted, probability, true, correct}] | thumbnails [{png, width, height}] | class_names
// [{index, label}] | class_filter (-1 all) | class_role "predicted" | "true" | correctness
// "all" | "correct" | "wrong" | opened (-1 none) | explorer {} or {item, ...} | explorers []
// or [...] | selected_class | selected | graph_layout | opacity | colormap | title.
// Text from data goes in with textContent only.

import conceptExplorer from "./concept_explorer";
import { asBytes, type BinaryLike } from "./lib/buffers";
import { bindRadioGroup, checkRadio } from "./lib/controls";
import { box, h, listen, showText, teardown, uniqueId, widgetFrame } from "./lib/dom";
import { formatProbability } from "./lib/format";
import { ChildView } from "./lib/child_view";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { navigate } from "./lib/selection";
import { EXPLANATION_GALLERY_CSS } from "./explanation_gallery.styles";

// ------------------------------------------------------------------ pure logic (tested in vitest)

export const CLASS_ROLES = ["predicted", "true"] as const;
export type ClassRole = (typeof CLASS_ROLES)[number];
export const CORRECTNESS = ["all", "correct", "wrong"] as const;
export type Correctness = (typeof CORRECTNESS)[number];

export interface GalleryItem {
  title: string;
  predicted: number;
  probability: number | null;
  /** the true class index, null when unknown */
  trueClass: number | null;
  /** null when the true class is unknown */
  correct: boolean | null;
}

export interface ClassName {
  index: number;
  label: string;
}

export interface Filter {
  /** a class index, -1 for every class */
  classIndex: number;
  role: ClassRole;
  correctness: Correctness;
}

export function isClassRole(value: unknown): value is ClassRole {
  return typeof value === "string" && (CLASS_ROLES as readonly string[]).includes(value);
}

export function isCorrectness(value: unknown): value is Correctness {
  return typeof value === "string" && (CORRECTNESS as readonly string[]).includes(value);
}

function intOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) ? value : null;
}

/** The `items` trait, read leniently: a bad entry gets "unknown" fields rather than failing. */
export function readItems(value: unknown): GalleryItem[] {
  if (!Array.isArray(value)) return [];
  return value.map((v: Record<string, unknown> | null, i): GalleryItem => {
    const predicted = intOrNull(v?.predicted) ?? -1;
    const trueClass = intOrNull(v?.true);
    const correct = typeof v?.correct === "boolean" ? v.correct : trueClass === null || predicted < 0 ? null : predicted === trueClass;
    return {
      title: typeof v?.title === "string" ? v.title : `Image ${i + 1}`,
      predicted,
      probability: typeof v?.probability === "number" && Number.isFinite(v.probability) ? v.probability : null,
      trueClass,
      correct,
    };
  });
}

/** The `class_names` trait: index -> label. */
export function readClassNames(value: unknown): Map<number, string> {
  const names = new Map<number, string>();
  if (!Array.isArray(value)) return names;
  for (const c of value as Array<Record<string, unknown> | null>) {
    const index = intOrNull(c?.index);
    if (index !== null) names.set(index, typeof c?.label === "string" ? c.label : `class ${index}`);
  }
  return names;
}

/** The filters from the traits; anything out of range falls back to "show everything". */
export function readFilter(model: Pick<WidgetModel, "get">): Filter {
  const classIndex = intOrNull(model.get("class_filter"));
  const role = model.get("class_role");
  const correctness = model.get("correctness");
  return {
    classIndex: classIndex === null || classIndex < 0 ? -1 : classIndex,
    role: isClassRole(role) ? role : "predicted",
    correctness: isCorrectness(correctness) ? correctness : "all",
  };
}

/** "correct", "wrong" or "unknown" (no true class). */
export function correctnessOf(item: GalleryItem): "correct" | "wrong" | "unknown" {
  return item.correct === null ? "unknown" : item.correct ? "correct" : "wrong";
}

/** Whether `item` passes `filter` (Python's `gallery_matches` does the same). Items without a
 *  true class pass the correctness filter only on "all", and a "true" class filter never. */
export function matches(item: GalleryItem, filter: Filter): boolean {
  if (filter.classIndex >= 0) {
    const value = filter.role === "predicted" ? item.predicted : item.trueClass;
    if (value !== filter.classIndex) return false;
  }
  if (filter.correctness === "correct") return item.correct === true;
  if (filter.correctness === "wrong") return item.correct === false;
  return true;
}

/** Positions of the items that pass `filter`, in order. */
export function visibleItems(items: readonly GalleryItem[], filter: Filter): number[] {
  const out: number[] = [];
  items.forEach((item, i) => {
    if (matches(item, filter)) out.push(i);
  });
  return out;
}

/** How many items each class option would show with the other filters as they are:
 *  index -> count (-1: every class). */
export function classCounts(items: readonly GalleryItem[], classes: Iterable<number>, filter: Filter): Map<number, number> {
  const counts = new Map<number, number>([[-1, visibleItems(items, { ...filter, classIndex: -1 }).length]]);
  for (const k of classes) counts.set(k, visibleItems(items, { ...filter, classIndex: k }).length);
  return counts;
}

/** Totals for the subtitle. */
export function tally(items: readonly GalleryItem[]): { correct: number; wrong: number; unknown: number } {
  const t = { correct: 0, wrong: 0, unknown: 0 };
  for (const item of items) t[correctnessOf(item)] += 1;
  return t;
}

/**
 * The explorer data of item `opened`: `explorers[opened]` when every explanation was sent,
 * else `explorer` when it is that item's (its `item` field), else null (not arrived yet).
 */
export function explorerData(opened: number, explorers: unknown, explorer: unknown): Record<string, unknown> | null {
  if (opened < 0) return null;
  if (Array.isArray(explorers) && explorers.length > opened) {
    const d = explorers[opened] as Record<string, unknown> | null;
    if (d !== null && typeof d === "object" && d.image !== undefined) return d;
  }
  const e = explorer as Record<string, unknown> | null;
  if (e !== null && typeof e === "object" && e.item === opened && e.image !== undefined) return e;
  return null;
}

/** The visible item that `key` moves the focus to from item `current` (arrows, Home, End). */
export function nextVisible(visible: readonly number[], current: number, key: string): number | null {
  const here = visible.indexOf(current);
  const to = navigate(here < 0 ? 0 : here, key, visible.length);
  return to === null ? null : visible[to];
}

/** Traits that the explorer shares with the gallery (set on either side, mirrored). */
export const SHARED = ["selected", "selected_class", "opacity", "colormap"] as const;

/** The embedded explorer's model: its `save_changes` passes the shared traits to the gallery. */
export { ChildModel } from "./lib/child_view";

// ------------------------------------------------------------------ the widget

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  const { root, header, title, error, setError } = widgetFrame("gallery", EXPLANATION_GALLERY_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-gallery-summary" });
  header.append(subtitle);
  const uid = uniqueId("xw-eg");

  // filters
  const filters = h("div", "xw-filters", { "data-testid": "xw-gallery-filters" });
  const classLabel = h("label", "xw-heading", { for: `${uid}-class` }, "Class");
  const classSelect = h("select", "xw-select", { id: `${uid}-class`, "data-testid": "xw-gallery-class" });
  const roleGroup = h("div", "xw-segments", { role: "radiogroup", "aria-label": "Filter by the class", "data-testid": "xw-gallery-role" });
  const roleButtons = CLASS_ROLES.map((r, i) =>
    h("button", "xw-segment", { type: "button", role: "radio", "data-testid": `xw-gallery-role-${r}`, "data-position": i },
      r === "predicted" ? "predicted" : "true"));
  roleGroup.append(...roleButtons);
  const correctGroup = h("div", "xw-segments", { role: "radiogroup", "aria-label": "Correctness", "data-testid": "xw-gallery-correctness" });
  const correctButtons = CORRECTNESS.map((c, i) =>
    h("button", "xw-segment", { type: "button", role: "radio", "data-testid": `xw-gallery-correct-${c}`, "data-position": i },
      c === "all" ? "All" : c === "correct" ? "\u2713 Right" : "\u2717 Wrong"));
  correctGroup.append(...correctButtons);
  const count = h("span", "xw-count", { "data-testid": "xw-gallery-count", "aria-live": "polite" });
  const group = (...children: HTMLElement[]): HTMLElement => box("xw-filter", ...children);
  filters.append(
    group(classLabel, classSelect),
    group(h("span", "xw-heading", {}, "of the"), roleGroup),
    group(h("span", "xw-heading", {}, "Show"), correctGroup),
    count,
  );

  const grid = h("div", "xw-grid", { role: "group", "data-testid": "xw-gallery-grid", "aria-label": "Explanations: click one to open it" });
  const empty = h("div", "xw-empty", { "data-testid": "xw-gallery-empty", hidden: true }, "No explanation matches these filters.");

  const opened = h("section", "xw-opened", { "data-testid": "xw-gallery-opened", "aria-label": "Opened explanation", hidden: true });
  const openedBar = h("div", "xw-opened-bar");
  const openedTitle = h("span", "xw-opened-title", { "data-testid": "xw-gallery-opened-title" });
  const close = h("button", "xw-button", { type: "button", "data-testid": "xw-gallery-close" }, "Close");
  openedBar.append(openedTitle, close);
  const loading = h("div", "xw-loading", { "data-testid": "xw-gallery-loading", hidden: true }, "Loading the explanation\u2026");
  const slot = h("div", "xw-explorer-slot", { "data-testid": "xw-gallery-explorer" });
  opened.append(openedBar, loading, slot);

  root.append(filters, grid, empty, opened, error);
  el.replaceChildren(root);

  let items: GalleryItem[] = [];
  let names = new Map<number, string>();
  let thumbs: HTMLButtonElement[] = [];
  let urls: string[] = [];

  const label = (k: number | null): string => (k === null ? "unknown" : names.get(k) ?? `class ${k}`);

  // ---------------------------------------------------------------- thumbnails
  function buildThumbs(): void {
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
    grid.replaceChildren();
    const payloads = model.get("thumbnails");
    const list = Array.isArray(payloads) ? (payloads as Array<{ png?: BinaryLike; width?: number; height?: number } | null>) : [];
    let widest = 0;
    thumbs = items.map((item, i) => {
      const verdict = correctnessOf(item);
      const button = h("button", "xw-thumb", {
        type: "button",
        "data-testid": "xw-thumb",
        "data-item": i,
        "data-correct": verdict,
        "aria-pressed": "false",
        tabindex: -1,
        "aria-label": `${item.title}: predicted ${label(item.predicted)}${item.trueClass === null ? "" : `, true ${label(item.trueClass)}`}`,
      });
      const img = h("img", "xw-thumb-img", { alt: "", "data-testid": "xw-thumb-img", draggable: "false" });
      const p = list[i];
      if (p && p.png !== undefined) {
        try {
          const url = URL.createObjectURL(new Blob([asBytes(p.png).slice()], { type: "image/png" }));
          urls.push(url);
          img.src = url;
          if (Number(p.width) > 0 && Number(p.height) > 0) {
            img.width = Number(p.width);
            img.height = Number(p.height);
            widest = Math.max(widest, Number(p.width));
          }
        } catch (e) {
          setError("thumbnails", `Cannot read thumbnail ${i}: ${(e as Error).message}.`);
        }
      }
      const mark = verdict === "correct" ? "\u2713 right" : verdict === "wrong" ? "\u2717 wrong" : "";
      const truth = h("div", "xw-thumb-line", { "data-testid": "xw-thumb-true" });
      if (item.trueClass !== null) truth.append(`true: ${label(item.trueClass)} `, h("span", "xw-mark", {}, mark));
      button.append(
        img,
        h("div", "xw-thumb-title", { title: item.title }, item.title),
        h("div", "xw-thumb-line", { "data-testid": "xw-thumb-predicted" }, `${label(item.predicted)} ${formatProbability(item.probability)}`),
        truth,
      );
      grid.append(button);
      return button;
    });
    if (widest > 0) grid.style.setProperty("--xw-thumb", `${Math.max(widest + 12, 132)}px`);
  }

  // ---------------------------------------------------------------- filters
  const filter = (): Filter => readFilter(model);

  function buildClassOptions(): void {
    const f = filter();
    const counts = classCounts(items, names.keys(), f);
    classSelect.replaceChildren(h("option", null, { value: "-1" }, `All classes (${counts.get(-1)})`));
    for (const [index, name] of [...names].sort((a, b) => a[1].localeCompare(b[1]) || a[0] - b[0])) {
      classSelect.append(h("option", null, { value: String(index) }, `${name} (${counts.get(index) ?? 0})`));
    }
    classSelect.value = String(f.classIndex);
    if (classSelect.value !== String(f.classIndex)) classSelect.value = "-1";
  }

  function applyFilter(): void {
    const f = filter();
    const visible = new Set(visibleItems(items, f));
    thumbs.forEach((button, i) => {
      button.hidden = !visible.has(i);
    });
    checkRadio(roleButtons, CLASS_ROLES.indexOf(f.role));
    checkRadio(correctButtons, CORRECTNESS.indexOf(f.correctness));
    buildClassOptions();
    count.textContent = `${visible.size} of ${items.length} shown`;
    empty.hidden = visible.size > 0 || items.length === 0;
    root.dataset.visible = [...visible].join(",");
    rovingFocus();
  }

  /** One visible thumbnail in the tab order: the opened one if visible, else the first. */
  function rovingFocus(): void {
    const visible = visibleItems(items, filter());
    const current = Number(model.get("opened"));
    const tab = visible.includes(current) ? current : (visible[0] ?? -1);
    thumbs.forEach((button, i) => (button.tabIndex = i === tab ? 0 : -1));
  }

  function setFilter(name: string, value: unknown): void {
    if (model.get(name) === value) return;
    model.set(name, value);
    model.save_changes();
  }

  cleanups.push(
    listen(classSelect, "change", () => setFilter("class_filter", Number(classSelect.value))),
    ...bindRadioGroup(roleGroup, {
      selector: ".xw-segment",
      position: (b) => Number(b.dataset.position),
      current: () => CLASS_ROLES.indexOf(filter().role),
      count: () => CLASS_ROLES.length,
      choose: (p, focus) => {
        if (focus) roleButtons[p]?.focus();
        setFilter("class_role", CLASS_ROLES[p]);
      },
    }),
    ...bindRadioGroup(correctGroup, {
      selector: ".xw-segment",
      position: (b) => Number(b.dataset.position),
      current: () => CORRECTNESS.indexOf(filter().correctness),
      count: () => CORRECTNESS.length,
      choose: (p, focus) => {
        if (focus) correctButtons[p]?.focus();
        setFilter("correctness", CORRECTNESS[p]);
      },
    }),
  );

  // ---------------------------------------------------------------- opening
  function open(i: number): void {
    if (i === Number(model.get("opened"))) return;
    const item = items[i];
    model.set("opened", i);
    model.set("selected", "");
    model.set("selected_class", item === undefined ? -1 : item.predicted);
    model.save_changes();
  }

  cleanups.push(
    listen(grid, "click", (event) => {
      const button = (event.target as Element).closest<HTMLElement>(".xw-thumb");
      if (button === null || !grid.contains(button)) return;
      open(Number(button.dataset.item));
    }),
    listen(grid, "keydown", (event) => {
      const button = (event.target as Element).closest<HTMLElement>(".xw-thumb");
      if (button === null) return;
      const next = nextVisible(visibleItems(items, filter()), Number(button.dataset.item), event.key);
      if (next === null) return;
      event.preventDefault();
      thumbs.forEach((b, i) => (b.tabIndex = i === next ? 0 : -1));
      thumbs[next]?.focus();
    }),
    listen(close, "click", () => {
      if (Number(model.get("opened")) < 0) return;
      model.set("opened", -1);
      model.set("selected", "");
      model.set("selected_class", -1);
      model.save_changes();
    }),
  );

  // ---------------------------------------------------------------- the embedded explorer
  const embedded = new ChildView(model, slot, SHARED);

  function mountExplorer(): void {
    const i = Number(model.get("opened"));
    const item = items[i];
    thumbs.forEach((b, k) => b.setAttribute("aria-pressed", String(k === i)));
    rovingFocus();
    root.dataset.opened = String(Number.isInteger(i) && i >= 0 ? i : -1);
    if (!(i >= 0) || item === undefined) {
      embedded.unmount();
      opened.hidden = true;
      return;
    }
    opened.hidden = false;
    openedTitle.textContent = item.title;
    const data = explorerData(i, model.get("explorers"), model.get("explorer"));
    loading.hidden = data !== null;
    if (embedded.shows(data)) return;
    embedded.unmount();
    if (data === null) return; // the kernel sends it (change:explorer)
    const state: Record<string, unknown> = { ...data, title: "", graph_layout: model.get("graph_layout") };
    delete state.item;
    const host = h("div", "xw-explorer-host", { "data-item": i });
    embedded.mount(conceptExplorer, data, state, host, (e) =>
      setError("explorer", e === null ? null : `Cannot show explanation ${i}: ${e.message}.`),
    );
  }

  // ---------------------------------------------------------------- trait -> view
  function loadAll(): void {
    items = readItems(model.get("items"));
    names = readClassNames(model.get("class_names"));
    const t = tally(items);
    const parts = [`${items.length} explanation${items.length === 1 ? "" : "s"}`];
    if (t.correct + t.wrong > 0) parts.push(`${t.correct} right`, `${t.wrong} wrong`);
    if (t.unknown > 0 && t.correct + t.wrong > 0) parts.push(`${t.unknown} without a true class`);
    subtitle.textContent = parts.join(" \u00b7 ");
    buildThumbs();
    applyFilter();
    embedded.unmount();
    mountExplorer();
  }

  function loadTitle(): void {
    showText(title, model.get("title"));
  }

  const handlers: Array<[string, () => void]> = [
    ["change:items", loadAll],
    ["change:class_names", loadAll],
    ["change:thumbnails", () => { buildThumbs(); applyFilter(); mountExplorer(); }],
    ["change:class_filter", applyFilter],
    ["change:class_role", applyFilter],
    ["change:correctness", applyFilter],
    ["change:opened", mountExplorer],
    ["change:explorer", mountExplorer],
    ["change:explorers", () => { embedded.unmount(); mountExplorer(); }],
    ["change:graph_layout", () => embedded.child?.set("graph_layout", model.get("graph_layout"))],
    ["change:title", loadTitle],
  ];
  cleanups.push(...subscribe(model, handlers), ...embedded.followParent());

  loadTitle();
  loadAll();
  root.dataset.ready = "true";

  return teardown(el, cleanups, () => {
    embedded.unmount();
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
  });
}

export type { WidgetModel };
export default { render };
