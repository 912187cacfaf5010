// The methods x images layout (CompareGrid, Leaderboard): maps [N, M, H, W] (one per method
// and image) and the M image columns (caption and predicted class) they are shown under.

import { decodeShaped } from "./buffers";

/** The `maps` trait decoded: N methods x M images of rows x cols maps. */
export interface GridMaps {
  data: Float32Array | Uint8Array;
  methods: number;
  images: number;
  rows: number;
  cols: number;
}

/** An image column: its caption and the class predicted for the image ("" and null when none). */
export interface ImageColumn {
  caption: string;
  label: string;
  probability: number | null;
}

/** Decode the `maps` trait; throws a RangeError unless its shape is [N, M, H, W]. */
export function readGridMaps(value: unknown): GridMaps {
  const decoded = decodeShaped(value, "maps", ["N", "M", "H", "W"]);
  const [methods, images, rows, cols] = decoded.shape;
  return { data: decoded.data, methods, images, rows, cols };
}

/** Why `maps` do not fit `methods` x `images` (the methods and columns traits); null when they do or there are none. */
export function gridMismatch(maps: GridMaps | null, methods: number, images: number): string | null {
  if (maps === null || (maps.methods === methods && maps.images === images)) return null;
  return `maps hold ${maps.methods} methods x ${maps.images} images but methods lists ${methods} and columns ${images}.`;
}

/** The `columns` trait (missing captions are "Image <i>"). */
export function readImageColumns(value: unknown): ImageColumn[] {
  if (!Array.isArray(value)) return [];
  return value.map((c: Partial<ImageColumn> | null, i) => ({
    caption: String(c?.caption ?? `Image ${i}`),
    label: String(c?.label ?? ""),
    probability: typeof c?.probability === "number" ? c.probability : null,
  }));
}
