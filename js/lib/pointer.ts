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
