// The colour bar of a viewer's side panel: a heading, the ramp of the colour map and the
// range's ends under it. Painted with overlay.ts `paintColourBar(ramp, min, max, ...)`.

import { h } from "./dom";

export interface ColourBar {
  /** `.xw-control.xw-colorbar`, data-testid "xw-colorbar" */
  root: HTMLDivElement;
  /** `.xw-heading`, data-testid "xw-colorbar-heading" */
  heading: HTMLDivElement;
  /** `.xw-colorbar-ramp`, aria-hidden: its background is the colour map */
  ramp: HTMLDivElement;
  /** `.xw-colorbar-ticks`, holding `min` and `max` */
  ticks: HTMLDivElement;
  /** data-testid "xw-colorbar-min" */
  min: HTMLSpanElement;
  /** data-testid "xw-colorbar-max" */
  max: HTMLSpanElement;
}

/** A colour bar headed `heading`, with `extra` (notes) under the ticks. */
export function colourBar(heading: string, ...extra: HTMLElement[]): ColourBar {
  const root = h("div", "xw-control xw-colorbar", { "data-testid": "xw-colorbar" });
  const head = h("div", "xw-heading", { "data-testid": "xw-colorbar-heading" }, heading);
  const ramp = h("div", "xw-colorbar-ramp", { "aria-hidden": "true" });
  const ticks = h("div", "xw-colorbar-ticks");
  const min = h("span", "xw-colorbar-min", { "data-testid": "xw-colorbar-min" });
  const max = h("span", "xw-colorbar-max", { "data-testid": "xw-colorbar-max" });
  ticks.append(min, max);
  root.append(head, ramp, ticks, ...extra);
  return { root, heading: head, ramp, ticks, min, max };
}
