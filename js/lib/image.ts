// Image payloads ({png, width, height}) -> something drawImage accepts. Browser only:
// decoding happens locally from the bytes (Blob), never through a network request.

import { asBytes, type BinaryLike } from "./buffers";

export interface ImagePayload {
  png: BinaryLike;
  width: number;
  height: number;
}

export type Drawable = ImageBitmap | HTMLImageElement;

/** Check the payload's shape; returns width and height or throws with what was wrong. */
export function checkImagePayload(value: unknown): { width: number; height: number } {
  const p = value as Partial<ImagePayload> | null;
  if (p === null || typeof p !== "object" || p.png === undefined) {
    throw new TypeError("image: expected {png, width, height}");
  }
  const width = Number(p.width);
  const height = Number(p.height);
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`image: expected positive integer width and height; got ${String(p.width)} x ${String(p.height)}`);
  }
  return { width, height };
}

export async function decodeImage(payload: ImagePayload, type = "image/png"): Promise<Drawable> {
  // Copy into a fresh ArrayBuffer: a Blob part must not be a view on a shared buffer.
  const blob = new Blob([asBytes(payload.png).slice()], { type });
  if (typeof createImageBitmap === "function") return createImageBitmap(blob);
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function releaseImage(image: Drawable | null): void {
  if (image !== null && "close" in image) image.close();
}

/**
 * Decode every payload. Resolves to the settled results while `current()` still holds when
 * decoding ends; otherwise releases what was decoded and resolves to null (a later load or
 * a disposal superseded this one).
 */
export async function decodeAll(
  payloads: readonly ImagePayload[],
  current: () => boolean,
): Promise<Array<PromiseSettledResult<Drawable>> | null> {
  const results = await Promise.allSettled(payloads.map((p) => decodeImage(p)));
  if (current()) return results;
  for (const r of results) if (r.status === "fulfilled") releaseImage(r.value);
  return null;
}

/** The message of an error thrown by decoding (anything may be thrown). */
export function errorText(e: unknown): string {
  return (e as Error | null | undefined)?.message ?? String(e);
}
