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
