// Number formatting for labels and read-outs.

/** A probability as a percentage: 0.9512 -> "95.1%"; null or NaN -> "n/a". */
export function formatProbability(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "n/a";
  const pct = p * 100;
  if (pct > 0 && pct < 0.1) return "<0.1%";
  return `${pct.toFixed(1)}%`;
}

/** A map value with 4 significant digits, switching to exponent form when tiny or huge. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(3);
  return Number(v.toPrecision(4)).toString();
}

/** "label (95.1%)": the class picker's text for one class. */
export function classText(label: string, probability: number | null | undefined): string {
  return `${label} (${formatProbability(probability)})`;
}
