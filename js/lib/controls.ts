// The display controls every widget has (colour map, value scale, opacity), bound to their
// traits, and radio groups of buttons (roving tabindex, WAI-ARIA pattern). Each widget lays
// the elements out itself; class names and data-testids are set here, the same everywhere.

import { COLORMAP_NAMES, isColormap } from "./colormaps";
import { box, h, listen } from "./dom";
import { classText, formatProbability } from "./format";
import type { WidgetModel } from "./model";
import { isScale } from "./normalise";
import { SCALE_LABELS, readColormap, readScale } from "./overlay";
import { clampOpacity, clampSelection, navigate } from "./selection";

export interface DisplayControls {
  colormapLabel: HTMLLabelElement;
  /** data-testid "xw-colormap" */
  colormap: HTMLSelectElement;
  scaleLabel: HTMLLabelElement;
  /** data-testid "xw-scale" */
  scale: HTMLSelectElement;
  opacityLabel: HTMLLabelElement;
  /** data-testid "xw-opacity": a range input in [0, 1] */
  opacity: HTMLInputElement;
  /** data-testid "xw-opacity-value": the opacity in percent */
  opacityValue: HTMLOutputElement;
}

export interface DisplayControlOptions {
  /** prefix of the controls' ids, unique per render */
  uid: string;
  /** class names of the colour-map and scale selects */
  colormapClass: string;
  scaleClass: string;
  /** text of the scale select's label */
  scaleText: string;
}

/** The colour-map and scale selects and the opacity slider, each with its label. */
export function displayControls({ uid, colormapClass, scaleClass, scaleText }: DisplayControlOptions): DisplayControls {
  const colormapLabel = h("label", "xw-heading", { for: `${uid}-colormap` }, "Colour map");
  const colormap = h("select", colormapClass, { id: `${uid}-colormap`, "data-testid": "xw-colormap" });
  for (const name of COLORMAP_NAMES) colormap.append(h("option", null, { value: name }, name));

  const scaleLabel = h("label", "xw-heading", { for: `${uid}-scale` }, scaleText);
  const scale = h("select", scaleClass, { id: `${uid}-scale`, "data-testid": "xw-scale" });
  for (const [value, text] of SCALE_LABELS) scale.append(h("option", null, { value }, text));

  const opacityLabel = h("label", "xw-heading", { for: `${uid}-opacity` }, "Opacity");
  const opacity = h("input", "xw-opacity", {
    id: `${uid}-opacity`, type: "range", min: 0, max: 1, step: 0.01, "data-testid": "xw-opacity",
  });
  const opacityValue = h("output", "xw-opacity-value", { "data-testid": "xw-opacity-value" });
  opacityValue.htmlFor.add(opacity.id);
  return { colormapLabel, colormap, scaleLabel, scale, opacityLabel, opacity, opacityValue };
}

/** A `.xw-control` section of a side panel or tool bar holding `children`. */
export function controlSection(...children: HTMLElement[]): HTMLDivElement {
  return box("xw-control", ...children);
}

/**
 * The opacity slider's section. "panel" (a viewer's side panel): the label and the value on
 * one `.xw-control-row`, the slider under them; "toolbar": the label over an
 * `.xw-opacity-row` of the slider and the value.
 */
export function opacitySection(controls: DisplayControls, layout: "panel" | "toolbar"): HTMLDivElement {
  if (layout === "panel") {
    const row = h("div", "xw-control-row");
    row.append(controls.opacityLabel, controls.opacityValue);
    return controlSection(row, controls.opacity);
  }
  const row = h("div", "xw-opacity-row");
  row.append(controls.opacity, controls.opacityValue);
  return controlSection(controls.opacityLabel, row);
}

/** The controls' state from the traits (what a `change:` event calls). */
export interface DisplaySync {
  opacity(): void;
  colormap(): void;
  scale(): void;
}

/**
 * Set the `colormap`, `scale` and `opacity` traits (and save) when the user changes the
 * controls; the listeners' removers go into `cleanups`. Returns what syncs each control
 * from its trait.
 */
export function bindDisplayControls(model: WidgetModel, controls: DisplayControls, cleanups: Array<() => void>): DisplaySync {
  const { colormap, scale, opacity, opacityValue } = controls;
  cleanups.push(
    listen(opacity, "input", () => {
      model.set("opacity", clampOpacity(Number(opacity.value)));
      model.save_changes();
    }),
    listen(colormap, "change", () => {
      if (!isColormap(colormap.value)) return;
      model.set("colormap", colormap.value);
      model.save_changes();
    }),
    listen(scale, "change", () => {
      if (!isScale(scale.value)) return;
      model.set("scale", scale.value);
      model.save_changes();
    }),
  );
  return {
    opacity() {
      const v = clampOpacity(model.get("opacity"));
      // Leave the slider alone while it is being dragged to this very value.
      if (document.activeElement !== opacity || Number(opacity.value) !== v) opacity.value = String(v);
      opacityValue.textContent = `${Math.round(v * 100)}%`;
    },
    colormap() {
      colormap.value = readColormap(model);
    },
    scale() {
      scale.value = readScale(model);
    },
  };
}

/** A radio group's buttons with `checked` checked and the only one in the tab order. */
export function checkRadio(buttons: readonly HTMLElement[], checked: number): void {
  buttons.forEach((button, i) => {
    const on = i === checked;
    button.setAttribute("aria-checked", String(on));
    button.tabIndex = on ? 0 : -1;
  });
}

export interface RadioGroup {
  /** the buttons' selector within the group */
  selector: string;
  /** a button's position, or null for none */
  position(button: HTMLElement): number | null;
  /** the position checked now, and how many buttons there are */
  current(): number;
  count(): number;
  /** check `position` (from a click, or a key with `focus` true: move the focus there too) */
  choose(position: number, focus: boolean): void;
}

/**
 * A click on a button of `group` chooses it; a navigation key (arrows, Home, End; see
 * `navigate`) chooses the next one and focuses it. Returns the listeners' removers.
 */
export function bindRadioGroup(group: HTMLElement, radios: RadioGroup): Array<() => void> {
  return [
    listen(group, "click", (event) => {
      const button = (event.target as Element).closest<HTMLElement>(radios.selector);
      if (button === null || !group.contains(button)) return;
      const position = radios.position(button);
      if (position !== null) radios.choose(position, false);
    }),
    listen(group, "keydown", (event) => {
      const next = navigate(radios.current(), event.key, radios.count());
      if (next === null) return;
      event.preventDefault();
      radios.choose(next, true);
    }),
  ];
}

/** Replace the buttons of radio group `list` (and of `buttons`) with one per item, made by `make`. */
export function fillRadioGroup<T, B extends HTMLElement>(
  list: HTMLElement,
  buttons: B[],
  items: readonly T[],
  make: (item: T, position: number) => B,
): void {
  list.replaceChildren();
  buttons.length = 0;
  items.forEach((item, i) => {
    const button = make(item, i);
    list.append(button);
    buttons.push(button);
  });
}

/** A radio group whose buttons (each with data-position) choose an integer trait. */
export interface PositionRadios {
  /** the buttons' selector within the group */
  selector: string;
  /** the buttons in position order, as the widget builds them */
  buttons: readonly HTMLElement[];
  /** the trait holding the checked position */
  trait: string;
  current(): number;
  count(): number;
}

/**
 * bindRadioGroup for a position trait: choosing a button (focusing it when by key) sets
 * the trait to its position, clamped to `count()`, and saves, unless it holds it already.
 */
export function bindPositionRadios(model: WidgetModel, group: HTMLElement, radios: PositionRadios): Array<() => void> {
  return bindRadioGroup(group, {
    selector: radios.selector,
    position: (button) => Number(button.dataset.position),
    current: () => radios.current(),
    count: () => radios.count(),
    choose(position, focus) {
      const p = clampSelection(position, radios.count());
      if (focus) radios.buttons[p]?.focus();
      if (p === model.get(radios.trait)) return;
      model.set(radios.trait, p);
      model.save_changes();
    },
  });
}

/** A class picker's radio button `.xw-class` at `position`: the label and the probability. */
export function classButton(c: { label: string; probability: number | null }, position: number): HTMLButtonElement {
  const button = h("button", "xw-class", {
    type: "button",
    role: "radio",
    "data-testid": `xw-class-${position}`,
    "data-position": position,
    "aria-label": `${c.label}, probability ${formatProbability(c.probability)}`,
    title: classText(c.label, c.probability),
  });
  button.append(h("span", "xw-class-label", {}, c.label), h("span", "xw-class-prob", {}, formatProbability(c.probability)));
  return button;
}

export interface PositionPickerOptions<T> {
  /** the integer trait the picker chooses */
  trait: string;
  /** class names: the section (after `xw-control`), the radio group, its buttons' selector */
  sectionClass: string;
  listClass: string;
  selector: string;
  /** the group's aria-label and the section's heading; the group's data-testid */
  label: string;
  testid: string;
  /** the position checked now and how many there are */
  current(): number;
  count(): number;
  /** the button of an item (with data-position) */
  make(item: T, position: number): HTMLElement;
}

/**
 * A side panel's picker (class, row): a heading over a radio group of buttons, one per item,
 * that chooses an integer trait (see bindPositionRadios); the listeners' removers go into
 * `cleanups`.
 */
export class PositionPicker<T> {
  /** `.xw-control.<sectionClass>`: the heading and the group */
  readonly section: HTMLDivElement;
  readonly list: HTMLDivElement;
  readonly buttons: HTMLElement[] = [];

  constructor(model: WidgetModel, cleanups: Array<() => void>, private readonly options: PositionPickerOptions<T>) {
    const { sectionClass, listClass, label, testid } = options;
    this.section = h("div", `xw-control ${sectionClass}`);
    this.list = h("div", listClass, { role: "radiogroup", "aria-label": label, "data-testid": testid });
    this.section.append(h("div", "xw-heading", { "aria-hidden": "true" }, label), this.list);
    cleanups.push(
      ...bindPositionRadios(model, this.list, {
        selector: options.selector,
        buttons: this.buttons,
        trait: options.trait,
        current: () => options.current(),
        count: () => options.count(),
      }),
    );
  }

  /** Replace the buttons with one per item, and check the current one. */
  fill(items: readonly T[]): void {
    fillRadioGroup(this.list, this.buttons, items, (item, i) => this.options.make(item, i));
    this.check();
  }

  /** Check the current position's button. */
  check(): void {
    checkRadio(this.buttons, this.options.current());
  }
}
