// A slider over a sequence (a ViT's blocks, an optimisation's kept steps) with a play/pause
// button: the elements, their state for a position, and the play timer. Each widget decides
// what a position means, what a tick shows and when playing stops.

import { h } from "./dom";

export interface StepControlOptions {
  /** prefix of the slider's id, unique per render */
  uid: string;
  /** names the slider: class and data-testid `xw-<name>-slider`, output `xw-<name>-value`, id `<uid>-<name>` */
  name: string;
  /** the slider's (visually hidden) label */
  label: string;
  /** the play button's aria-label while not playing */
  playLabel: string;
  /** milliseconds per tick while playing */
  interval: number;
  /** the element whose data-playing says "true" while playing */
  root: HTMLElement;
}

const PLAY = "\u25b6";
const PAUSE = "\u275a\u275a";

export class StepControl {
  /** `.xw-slider-row`: play, label, slider, value */
  readonly row: HTMLDivElement;
  /** data-testid "xw-play" */
  readonly play: HTMLButtonElement;
  readonly slider: HTMLInputElement;
  readonly output: HTMLOutputElement;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: StepControlOptions) {
    const { uid, name, label, playLabel } = options;
    this.row = h("div", "xw-slider-row");
    this.play = h("button", "xw-play", { type: "button", "data-testid": "xw-play", "aria-label": playLabel }, PLAY);
    const sliderLabel = h("label", "xw-visually-hidden", { for: `${uid}-${name}` }, label);
    this.slider = h("input", `xw-${name}-slider`, {
      id: `${uid}-${name}`, type: "range", min: 0, max: 0, step: 1, value: 0, "data-testid": `xw-${name}-slider`,
    });
    this.output = h("output", `xw-${name}-value`, { "data-testid": `xw-${name}-value` });
    this.output.htmlFor.add(this.slider.id);
    this.row.append(this.play, sliderLabel, this.slider, this.output);
  }

  get playing(): boolean {
    return this.timer !== null;
  }

  /**
   * Show position `index` of `count` (the slider is left alone while it is dragged to it),
   * `text` in the output and `valueText` to screen readers; slider and play are disabled
   * below two positions.
   */
  sync(index: number, count: number, text: string, valueText: string): void {
    const { slider, play } = this;
    slider.max = String(Math.max(0, count - 1));
    slider.disabled = count < 2;
    play.disabled = count < 2;
    if (document.activeElement !== slider || Number(slider.value) !== index) slider.value = String(index);
    this.output.textContent = text;
    slider.setAttribute("aria-valuetext", valueText);
  }

  /** Show the pause button and call `tick` every interval until `stop`. */
  start(tick: () => void): void {
    this.play.textContent = PAUSE;
    this.play.setAttribute("aria-label", "Pause");
    this.options.root.dataset.playing = "true";
    this.timer = setInterval(tick, this.options.interval);
  }

  /** Stop playing and show the play button; false when it was not playing. */
  stop(): boolean {
    if (this.timer === null) return false;
    clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = PLAY;
    this.play.setAttribute("aria-label", this.options.playLabel);
    this.options.root.dataset.playing = "false";
    return true;
  }

  /** Stop the timer only (the widget is going away). */
  dispose(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** "3 / 6": position `index` (from 0) of `count`, as the slider's output shows it. */
export function positionText(index: number, count: number): string {
  return `${index + 1} / ${count}`;
}
