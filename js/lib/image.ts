// Image payloads ({png, width, height}) -> something drawImage accepts. Browser only:
// decoding happens locally from the bytes (Blob), never through a network request.

import { asBytes, type BinaryLike } from "./buffers";
import type { SetError } from "./dom";

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

/**
 * Check image payloads that must all have one size, `count` of them; returns that size
 * (null for none) or throws with what is wrong.
 */
export function checkSameSize(payloads: readonly unknown[], count: number): { width: number; height: number } | null {
  let size: { width: number; height: number } | null = null;
  payloads.forEach((p, i) => {
    const s = checkImagePayload(p);
    if (size === null) size = s;
    else if (s.width !== size.width || s.height !== size.height) {
      throw new RangeError(`image ${i} is ${s.width} x ${s.height}; image 0 is ${size.width} x ${size.height}`);
    }
  });
  if (payloads.length !== count) throw new RangeError(`${payloads.length} images for ${count} columns`);
  return size;
}

/**
 * The image of a one-image widget (its `image` trait): checked at once, decoded in the
 * background, each load superseding the one before. A failed decode keeps the previous image.
 */
export class ImageSlot {
  image: Drawable | null = null;
  size = { width: 1, height: 1 };
  private token = 0;
  private disposed = false;

  /** `setError` shows the messages (under the key "image"). */
  constructor(private readonly setError: SetError) {}

  /**
   * Check `value`: false, with "Cannot read the image: ...", when it is not an image payload.
   * Otherwise set `size`, clear the error and decode it; `decoded(ok)` runs when decoding
   * ends (unless a later load or `dispose` superseded it), once the image has replaced the
   * previous one (ok) or the failure has been reported ("Cannot decode the image: ...").
   */
  load(value: unknown, decoded: (ok: boolean) => void): boolean {
    const token = ++this.token;
    try {
      this.size = checkImagePayload(value);
    } catch (e) {
      this.setError("image", `Cannot read the image: ${(e as Error).message}.`);
      return false;
    }
    this.setError("image", null);
    void decodeAll([value as ImagePayload], () => !this.disposed && token === this.token).then((results) => {
      if (results === null) return;
      const [result] = results;
      if (result.status === "fulfilled") {
        releaseImage(this.image);
        this.image = result.value;
      } else {
        this.setError("image", `Cannot decode the image: ${errorText(result.reason)}.`);
      }
      decoded(result.status === "fulfilled");
    });
    return true;
  }

  /** Drop any decoding in flight and release the image. */
  dispose(): void {
    this.disposed = true;
    releaseImage(this.image);
    this.image = null;
  }
}

/** What ImageList.loadSameSize needs besides the trait value. */
export interface SameSizeLoad {
  /** how many images there must be */
  count: number;
  setError: SetError;
  /** the widget's root, marked data-ready "true" when loading ends */
  root: HTMLElement;
  /** called with the images' size (null for none) before they are decoded */
  sized(size: { width: number; height: number } | null): void;
  /** called once they are decoded */
  decoded(): void;
}

/** Several images decoded in the background, each load superseding the one before. */
export class ImageList {
  /** the decoded images, null where decoding failed */
  images: Array<Drawable | null> = [];
  private token = 0;
  private disposed = false;

  /** Drop the decoding in flight, if any (a newer load failed its checks). */
  supersede(): void {
    this.token += 1;
  }

  /**
   * Decode `payloads`, superseding the decoding in flight. When done (unless superseded or
   * disposed), the previous images are released, `images` holds the new ones and `done`
   * gets the settled results.
   */
  decode(payloads: readonly ImagePayload[], done: (results: Array<PromiseSettledResult<Drawable>>) => void): void {
    const token = ++this.token;
    void decodeAll(payloads, () => !this.disposed && token === this.token).then((results) => {
      if (results === null) return;
      for (const old of this.images) releaseImage(old);
      this.images = results.map((r) => (r.status === "fulfilled" ? r.value : null));
      done(results);
    });
  }

  /**
   * Load the `images` trait of a methods x images grid: `count` images of one size (see
   * checkSameSize). When they are not, "Cannot read the images: ..." under the error key
   * "image"; else the error is cleared, `sized` gets their size (null for none) and they are
   * decoded (see `decode`), the first failure reported ("Cannot decode image <i>: ..."),
   * then `decoded` runs. `root` is marked data-ready "true" once either is done.
   */
  loadSameSize(value: unknown, { count, setError, root, sized, decoded }: SameSizeLoad): void {
    const payloads = Array.isArray(value) ? (value as unknown[]) : [];
    let size: { width: number; height: number } | null;
    try {
      size = checkSameSize(payloads, count);
    } catch (e) {
      this.supersede();
      setError("image", `Cannot read the images: ${(e as Error).message}.`);
      root.dataset.ready = "true";
      return;
    }
    setError("image", null);
    sized(size);
    this.decode(payloads as ImagePayload[], (results) => {
      const [failed] = decodeFailures(results);
      if (failed !== undefined) setError("image", `Cannot decode ${failed}.`);
      decoded();
      root.dataset.ready = "true";
    });
  }

  /** Drop any decoding in flight and release the images. */
  dispose(): void {
    this.disposed = true;
    for (const image of this.images) releaseImage(image);
    this.images = [];
  }
}

/** "image <i>: <why>" for each image of `results` that failed to decode. */
export function decodeFailures(results: ReadonlyArray<PromiseSettledResult<Drawable>>): string[] {
  return results.flatMap((r, i) => (r.status === "rejected" ? [`image ${i}: ${errorText(r.reason)}`] : []));
}
