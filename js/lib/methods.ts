// Several saliency methods in one viewer: the `methods` trait cuts the rows of `maps` and
// `classes` into one consecutive block per method, and switching method keeps the class
// shown when the new method explains it too. Pure logic (vitest); the DOM is elsewhere.

/** One class of the picker (one row of `maps`). */
export interface ClassInfo {
  index: number;
  label: string;
  probability: number | null;
}

/** One method: rows [start, start + count) of `maps` and `classes` are its maps. */
export interface MethodInfo {
  name: string;
  detail: string;
  start: number;
  count: number;
}

export function readClasses(value: unknown): ClassInfo[] {
  if (!Array.isArray(value)) return [];
  return value.map((c: Partial<ClassInfo> | null, i) => ({
    index: Number(c?.index ?? i),
    label: String(c?.label ?? `class ${i}`),
    probability: typeof c?.probability === "number" ? c.probability : null,
  }));
}

/**
 * Read the `methods` trait for `rows` rows of maps. A missing or empty list means one
 * method owning every row (the single-method state, named by `fallback`). Blocks must be
 * consecutive, non-empty and cover the rows exactly; anything else throws a RangeError
 * that says what is wrong.
 */
export function readMethods(value: unknown, rows: number, fallback = ""): MethodInfo[] {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    return [{ name: fallback, detail: fallback, start: 0, count: rows }];
  }
  if (!Array.isArray(value)) throw new TypeError(`methods: expected a list; got ${typeof value}`);
  const methods = value.map((m: Partial<MethodInfo> | null, i): MethodInfo => {
    const name = String(m?.name ?? `method ${i}`);
    return { name, detail: String(m?.detail ?? name), start: Number(m?.start), count: Number(m?.count) };
  });
  let next = 0;
  methods.forEach((m, i) => {
    if (!(Number.isInteger(m.start) && Number.isInteger(m.count) && m.count > 0 && m.start === next)) {
      throw new RangeError(
        `methods[${i}]: expected rows starting at ${next} (start, count > 0); got start ${m.start}, count ${m.count}`,
      );
    }
    next = m.start + m.count;
  });
  if (next !== rows) throw new RangeError(`methods cover ${next} rows but maps hold ${rows}`);
  return methods;
}

/** What identifies a class across methods: its class index, or its label for custom targets. */
export function classKey(c: ClassInfo): string {
  return c.index >= 0 ? `#${c.index}` : `label:${c.label}`;
}

/**
 * The position to select in method `to` after switching from method `from`, where
 * `selected` was the position shown: the same class when `to` explains it, else 0 (the
 * first row, usually the predicted class).
 */
export function carrySelection(classes: readonly ClassInfo[], from: MethodInfo, selected: number, to: MethodInfo): number {
  const shown = classes[from.start + selected];
  if (shown === undefined) return 0;
  const key = classKey(shown);
  for (let i = 0; i < to.count; i++) {
    const c = classes[to.start + i];
    if (c !== undefined && classKey(c) === key) return i;
  }
  return 0;
}
