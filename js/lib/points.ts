// A sequence of points drawn over an image as a numbered path (FovEx's fixations).
//
// Trait payload: `{}` (no points) or `{data, dtype: "float32", shape: [R, N, 2]}`: per map
// row, N (x, y) pixel positions of the image (column, row; pixel centres at integers), in
// order; NaN pairs are no point. The pure parts (decoding, the path of a row, image to
// canvas coordinates, grouping points that coincide) are unit-tested; the drawing is
// tested in a real browser.

import { decodeArray, type ArrayPayload } from "./buffers";

export interface Points {
  data: Float32Array;
  /** map rows */
  rows: number;
  /** points per row (with NaN padding) */
  count: number;
}

/** One marker of a path: where (image pixels), and the 1-based numbers of the points there. */
export interface PathMarker {
  x: number;
  y: number;
  numbers: number[];
}

export interface Path {
  /** the path's vertices in order (image pixels), NaN points left out */
  vertices: Array<{ x: number; y: number; number: number }>;
  /** one marker per distinct position: points closer than `mergeRadius` share one */
  markers: PathMarker[];
}

/** Decode the `points` trait; null when it holds no points (`{}`, missing, or N = 0). */
export function readPoints(value: unknown): Points | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object") throw new TypeError(`points: expected {data, dtype, shape} or {}; got ${typeof value}`);
  if (Object.keys(value as object).length === 0) return null;
  const decoded = decodeArray(value as ArrayPayload);
  const shape = decoded.shape;
  if (shape.length !== 3 || shape[2] !== 2) {
    throw new RangeError(`points: expected shape [R, N, 2]; got [${shape.join(", ")}]`);
  }
  if (decoded.dtype === "uint8") throw new TypeError("points: expected float16 or float32 positions; got uint8");
  if (shape[1] === 0) return null;
  return { data: decoded.data as Float32Array, rows: shape[0], count: shape[1] };
}

/**
 * The path of map row `row`: its finite points in order, numbered from 1 by their place in
 * the sequence (a NaN point keeps its number unused), and markers that merge points within
 * `mergeRadius` image pixels of an earlier marker (their numbers listed together).
 */
export function pathOf(points: Points | null, row: number, mergeRadius = 0.5): Path {
  const vertices: Path["vertices"] = [];
  const markers: PathMarker[] = [];
  if (points === null || row < 0 || row >= points.rows) return { vertices, markers };
  const base = row * points.count * 2;
  for (let i = 0; i < points.count; i++) {
    const x = points.data[base + 2 * i];
    const y = points.data[base + 2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    vertices.push({ x, y, number: i + 1 });
    const same = markers.find((m) => Math.hypot(m.x - x, m.y - y) <= mergeRadius);
    if (same) same.numbers.push(i + 1);
    else markers.push({ x, y, numbers: [i + 1] });
  }
  return { vertices, markers };
}

/** Image pixel (x, y) -> canvas pixel: pixel centres map to the centres of their cells. */
export function toCanvas(
  x: number,
  y: number,
  image: { width: number; height: number },
  canvas: { width: number; height: number },
): { x: number; y: number } {
  return { x: ((x + 0.5) / image.width) * canvas.width, y: ((y + 0.5) / image.height) * canvas.height };
}

/** A marker's text: its numbers joined by commas ("1", "2,5"). */
export function markerText(marker: PathMarker): string {
  return marker.numbers.join(",");
}

/** A one-line description of a path, for screen readers ("Fixation 1 at (x 12, y 30); ..."). */
export function describePath(path: Path): string {
  return path.vertices.map((v) => `${v.number} at (x ${Math.round(v.x)}, y ${Math.round(v.y)})`).join("; ");
}

/**
 * Draw `path` over the whole of `canvas` (which shows an image of `image` pixels): the
 * segments as a white line with a dark edge, then a numbered disc per marker (the first
 * point's disc in `accent`). `scale` multiplies the sizes (the device pixel ratio).
 */
export function drawPath(
  ctx: CanvasRenderingContext2D,
  canvas: { width: number; height: number },
  image: { width: number; height: number },
  path: Path,
  scale = 1,
  accent = "#d62728",
): void {
  if (path.vertices.length === 0) return;
  const at = (p: { x: number; y: number }) => toCanvas(p.x, p.y, image, canvas);
  ctx.save();
  ctx.globalAlpha = 1;
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  for (const [width, colour] of [[4 * scale, "rgba(0, 0, 0, 0.75)"], [2 * scale, "#ffffff"]] as const) {
    ctx.beginPath();
    path.vertices.forEach((v, i) => {
      const p = at(v);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    });
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  const radius = 8 * scale;
  ctx.font = `bold ${Math.round(10 * scale)}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const marker of path.markers) {
    const p = at(marker);
    const text = markerText(marker);
    const r = Math.max(radius, ctx.measureText(text).width / 2 + 3 * scale);
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, 2 * Math.PI);
    ctx.fillStyle = marker.numbers[0] === path.vertices[0].number ? accent : "rgba(20, 20, 20, 0.85)";
    ctx.fill();
    ctx.lineWidth = 1.5 * scale;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, p.x, p.y + 0.5 * scale);
  }
  ctx.restore();
}
