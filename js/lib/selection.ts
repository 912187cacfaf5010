// Class selection: clamping state that may come from anywhere, and keyboard navigation
// of the class picker (a radio group with a roving tabindex, WAI-ARIA pattern).

/** A valid position in [0, count) for any input; 0 when there is nothing to select. */
export function clampSelection(value: unknown, count: number): number {
  if (!(count > 0)) return 0;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return 0;
  return Math.max(0, Math.min(count - 1, Math.trunc(n)));
}

/**
 * The position that `key` moves to from `current` among `count` options, or null when
 * the key does not navigate. Arrows wrap around, Home and End jump to the ends.
 */
export function navigate(current: number, key: string, count: number): number | null {
  if (!(count > 0)) return null;
  const here = clampSelection(current, count);
  switch (key) {
    case "ArrowDown":
    case "ArrowRight":
      return (here + 1) % count;
    case "ArrowUp":
    case "ArrowLeft":
      return (here - 1 + count) % count;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}

/** Clamp an opacity to [0, 1]; anything that is not a finite number gives `fallback`. */
export function clampOpacity(value: unknown, fallback = 0.5): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return fallback;
  return Math.max(0, Math.min(1, n));
}

/** A grid cell [row, col], or null for none. */
export type GridCell = readonly [number, number];

/**
 * Read a `[row, col]` trait value for a rows x cols grid: null for an empty list (nothing
 * selected) and for anything out of range or malformed (the Python side validates).
 */
export function readGridCell(value: unknown, rows: number, cols: number): GridCell | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [r, c] = value.map(Number);
  if (!(Number.isInteger(r) && Number.isInteger(c) && r >= 0 && r < rows && c >= 0 && c < cols)) return null;
  return [r, c];
}

/**
 * The cell that `key` moves the focus to in a rows x cols grid (arrows stop at the edges;
 * Home and End go to the ends of the row), or null when the key does not navigate.
 */
export function navigateGrid(current: GridCell, key: string, rows: number, cols: number): GridCell | null {
  if (!(rows > 0 && cols > 0)) return null;
  const r = clampSelection(current[0], rows);
  const c = clampSelection(current[1], cols);
  switch (key) {
    case "ArrowRight":
      return [r, Math.min(cols - 1, c + 1)];
    case "ArrowLeft":
      return [r, Math.max(0, c - 1)];
    case "ArrowDown":
      return [Math.min(rows - 1, r + 1), c];
    case "ArrowUp":
      return [Math.max(0, r - 1), c];
    case "Home":
      return [r, 0];
    case "End":
      return [r, cols - 1];
    default:
      return null;
  }
}
