// ConceptBankViewer: each class's visual concepts (most important first) with their example
// patches; class tabs and concept selection are client-side.
//
// Traits (see xwidgets/widgets/concept_bank_viewer.py for the contract):
//   classes [{name, index, images, concepts: [{id, importance, popularity, examples: [{png, width, height}]}]}] |
//   selected_class (position in classes) | selected_concept (position, -1: none) | layer | title.
// UI changes set the trait and call save_changes(). Example patches are PNG bytes shown through
// local blob: URLs (no network), revoked when the view goes.

import { asBytes, type BinaryLike } from "./lib/buffers";
import { h, listen, readOrReport, widgetFrame } from "./lib/dom";
import { formatValue } from "./lib/format";
import { subscribe, type RenderProps, type WidgetModel } from "./lib/model";
import { clampSelection } from "./lib/selection";
import { CONCEPT_BANK_CSS } from "./concept_bank_viewer.styles";

// ------------------------------------------------------------------------------ pure logic

export interface ExampleInfo {
  png: BinaryLike;
  width: number;
  height: number;
}

export interface ConceptInfo {
  id: string;
  importance: number;
  popularity: number;
  examples: ExampleInfo[];
}

export interface ClassInfo {
  name: string;
  index: number;
  images: number;
  concepts: ConceptInfo[];
}

function finite(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** Decode the `classes` trait; throws with what was wrong on a malformed payload. */
export function readClasses(value: unknown): ClassInfo[] {
  if (!Array.isArray(value)) throw new TypeError("classes: expected a list");
  return value.map((c: Partial<ClassInfo> | null, i) => {
    if (c === null || typeof c !== "object" || !Array.isArray(c.concepts)) {
      throw new TypeError(`classes[${i}]: expected {name, index, images, concepts: [...]}`);
    }
    return {
      name: String(c.name ?? `class ${i}`),
      index: Number.isInteger(Number(c.index)) ? Number(c.index) : i,
      images: Number.isInteger(Number(c.images)) ? Number(c.images) : 0,
      concepts: c.concepts.map((k: Partial<ConceptInfo> | null, j) => {
        if (k === null || typeof k !== "object") throw new TypeError(`classes[${i}].concepts[${j}]: expected an object`);
        const examples = Array.isArray(k.examples) ? k.examples : [];
        for (const [e, x] of examples.entries()) {
          if (x === null || typeof x !== "object" || (x as ExampleInfo).png === undefined) {
            throw new TypeError(`classes[${i}].concepts[${j}].examples[${e}]: expected {png, width, height}`);
          }
        }
        return {
          id: String(k.id ?? `${String(c.name ?? i)}/${j}`),
          importance: finite(k.importance),
          popularity: finite(k.popularity),
          examples: examples as ExampleInfo[],
        };
      }),
    };
  });
}

/** "importance 0.93 · in 45% of images" */
export function conceptStats(concept: ConceptInfo): string {
  const parts = [`importance ${formatValue(concept.importance)}`];
  if (Number.isFinite(concept.popularity)) parts.push(`in ${Math.round(concept.popularity * 100)}% of images`);
  return parts.join(" \u00b7 ");
}

/** The selected concept position for `value` among `count` concepts: -1 (none) when out of range. */
export function readConcept(value: unknown, count: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n < count ? n : -1;
}

// ------------------------------------------------------------------------------ the widget

function render({ model, el }: RenderProps): () => void {
  const cleanups: Array<() => void> = [];
  const { root, header, title, error, setError } = widgetFrame("conceptbank", CONCEPT_BANK_CSS);
  const subtitle = h("div", "xw-subtitle", { "data-testid": "xw-subtitle" });
  header.append(subtitle);
  const tabs = h("div", "xw-classes", { role: "radiogroup", "aria-label": "Class", "data-testid": "xw-classes" });
  const list = h("div", "xw-concepts", { "data-testid": "xw-concepts" });
  root.append(tabs, list, error);
  el.replaceChildren(root);

  let classes: ClassInfo[] = [];
  let urls: string[] = [];

  function releaseUrls(): void {
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
  }

  function currentClass(): number {
    return clampSelection(Number(model.get("selected_class")), classes.length);
  }

  function buildTabs(): void {
    tabs.replaceChildren();
    classes.forEach((c, i) => {
      const tab = h("button", "xw-class", {
        type: "button", role: "radio", "data-testid": `xw-class-${i}`, "data-position": i, "aria-checked": i === currentClass(),
      }, c.name);
      tabs.append(tab);
    });
    tabs.hidden = classes.length <= 1;
  }

  function buildList(): void {
    releaseUrls();
    list.replaceChildren();
    const c = classes[currentClass()];
    for (const tab of tabs.querySelectorAll<HTMLButtonElement>(".xw-class")) {
      tab.setAttribute("aria-checked", String(Number(tab.dataset.position) === currentClass()));
    }
    if (c === undefined) return;
    subtitle.textContent = `${c.name}: ${c.concepts.length} concept${c.concepts.length === 1 ? "" : "s"} from ${c.images} images` +
      (model.get("layer") ? ` \u00b7 layer ${String(model.get("layer"))}` : "");
    if (c.concepts.length === 0) {
      list.append(h("div", "xw-empty", {}, "No concept was found for this class."));
      return;
    }
    const selected = readConcept(model.get("selected_concept"), c.concepts.length);
    c.concepts.forEach((concept, j) => {
      const row = h("button", "xw-concept", {
        type: "button", "data-testid": `xw-concept-${j}`, "data-position": j, "aria-pressed": j === selected,
      });
      const info = h("span", "xw-concept-info");
      info.append(h("span", "xw-concept-id", {}, concept.id), h("span", "xw-concept-stats", {}, conceptStats(concept)));
      const examples = h("span", "xw-examples");
      concept.examples.forEach((x, e) => {
        const url = URL.createObjectURL(new Blob([asBytes(x.png).slice()], { type: "image/png" }));
        urls.push(url);
        examples.append(h("img", "xw-example", {
          src: url, width: x.width, height: x.height, alt: `${concept.id}: example ${e + 1}`, "data-testid": `xw-example-${j}-${e}`,
        }));
      });
      row.append(info, examples);
      list.append(row);
    });
    root.dataset.ready = "true";
  }

  function load(): void {
    const read = readOrReport(setError, "classes", () => readClasses(model.get("classes")));
    classes = read ?? [];
    buildTabs();
    buildList();
  }

  function loadTitle(): void {
    title.textContent = String(model.get("title") ?? "");
    title.hidden = title.textContent === "";
  }

  cleanups.push(
    listen(tabs, "click", (event) => {
      const tab = (event.target as HTMLElement).closest<HTMLButtonElement>(".xw-class");
      if (tab === null) return;
      const p = clampSelection(Number(tab.dataset.position), classes.length);
      if (p === model.get("selected_class")) return;
      model.set("selected_class", p);
      model.set("selected_concept", -1);
      buildList();
      model.save_changes();
    }),
    listen(list, "click", (event) => {
      const row = (event.target as HTMLElement).closest<HTMLButtonElement>(".xw-concept");
      if (row === null) return;
      const p = Number(row.dataset.position);
      model.set("selected_concept", model.get("selected_concept") === p ? -1 : p);
      buildList();
      model.save_changes();
    }),
  );
  cleanups.push(...subscribe(model, [
    ["change:classes", load],
    ["change:selected_class", buildList],
    ["change:selected_concept", buildList],
    ["change:layer", buildList],
    ["change:title", loadTitle],
  ]));
  loadTitle();
  load();

  return () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    releaseUrls();
    el.replaceChildren();
  };
}

export type { WidgetModel };
export default { render };
