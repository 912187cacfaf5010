// The hover read-out under a viewer's canvas: the value of the map cell under the pointer
// (data-active "true", data-value the number), or a hint while the pointer is elsewhere.

import { listen } from "./dom";
import { cellAt, type Cell } from "./pointer";

/** Show the hint: data-active "false", no data-value. */
export function clearReadout(readout: HTMLElement, hint: string): void {
  readout.textContent = hint;
  readout.dataset.active = "false";
  delete readout.dataset.value;
}

/** Show `text` for the cell whose value is `value`: data-active "true", data-value set. */
export function showReadout(readout: HTMLElement, text: string, value: number): void {
  readout.textContent = text;
  readout.dataset.active = "true";
  readout.dataset.value = String(value);
}

/**
 * Call `show` with the cell of the `grid()` map (rows x cols, stretched over `canvas`) under
 * the pointer, `clear` when the pointer is off the map or leaves the canvas; nothing while
 * `grid()` is null (no map). Returns the listeners' removers.
 */
export function bindHover(
  canvas: HTMLElement,
  grid: () => { rows: number; cols: number } | null,
  show: (cell: Cell) => void,
  clear: () => void,
): Array<() => void> {
  return [
    listen(canvas, "pointermove", (event) => {
      const g = grid();
      if (g === null) return;
      const cell = cellAt(event.clientX, event.clientY, canvas.getBoundingClientRect(), g.rows, g.cols);
      if (cell === null) return clear();
      show(cell);
    }),
    listen(canvas, "pointerleave", clear),
  ];
}
