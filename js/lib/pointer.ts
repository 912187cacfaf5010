// Pointer position on a (CSS-scaled) canvas -> the map cell under it.

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Cell {
  row: number;
  col: number;
  /** Flat index row * cols + col. */
  index: number;
}

/**
 * The cell of a `rows` x `cols` map stretched over `rect` (a getBoundingClientRect)
 * under the client position (x, y); null outside the rect or for an empty map.
 * Independent of the canvas's pixel size: the map covers the whole drawn box.
 */
export function cellAt(x: number, y: number, rect: Rect, rows: number, cols: number): Cell | null {
  if (!(rect.width > 0 && rect.height > 0 && rows > 0 && cols > 0)) return null;
  const fx = (x - rect.left) / rect.width;
  const fy = (y - rect.top) / rect.height;
  if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) return null;
  const col = Math.min(cols - 1, Math.floor(fx * cols));
  const row = Math.min(rows - 1, Math.floor(fy * rows));
  return { row, col, index: row * cols + col };
}

/** The client position of the centre of cell (row, col): the inverse of cellAt, for tests. */
export function cellCentre(row: number, col: number, rect: Rect, rows: number, cols: number): { x: number; y: number } {
  return { x: rect.left + ((col + 0.5) / cols) * rect.width, y: rect.top + ((row + 0.5) / rows) * rect.height };
}

/** A position relative to a box: (0, 0) its top-left corner, (1, 1) its bottom-right. */
export interface Relative {
  fx: number;
  fy: number;
}

/** The client position (x, y) relative to `rect`; null outside it or for an empty rect. */
export function relativeIn(x: number, y: number, rect: Rect): Relative | null {
  if (!(rect.width > 0 && rect.height > 0)) return null;
  const fx = (x - rect.left) / rect.width;
  const fy = (y - rect.top) / rect.height;
  if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) return null;
  return { fx, fy };
}

/** The map cell at a relative position, for a `rows` x `cols` map; null outside [0, 1]. */
export function cellAtRelative(p: Relative, rows: number, cols: number): Cell | null {
  if (!(rows > 0 && cols > 0 && p.fx >= 0 && p.fx <= 1 && p.fy >= 0 && p.fy <= 1)) return null;
  const col = Math.min(cols - 1, Math.floor(p.fx * cols));
  const row = Math.min(rows - 1, Math.floor(p.fy * rows));
  return { row, col, index: row * cols + col };
}

/**
 * Where a crosshair at relative position `p` goes in a box `width` x `height` (CSS pixels,
 * from the box's top-left corner): at the centre of the map cell under `p`, so that every
 * box of a grid marks the same map cell whatever its size, on whole pixels plus one half
 * (a 1-pixel line centred there is crisp).
 */
export function crosshairAt(p: Relative, width: number, height: number, rows: number, cols: number): { x: number; y: number } | null {
  const cell = cellAtRelative(p, rows, cols);
  if (cell === null || !(width > 0 && height > 0)) return null;
  const x = Math.floor(((cell.col + 0.5) / cols) * width) + 0.5;
  const y = Math.floor(((cell.row + 0.5) / rows) * height) + 0.5;
  return { x: Math.min(x, width - 0.5), y: Math.min(y, height - 0.5) };
}
