// Ring geometry: positions are fractions of a turn, 0 at the top, clockwise.

export function pointAt(cx: number, cy: number, r: number, f: number): [number, number] {
  const a = f * 2 * Math.PI - Math.PI / 2;
  return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
}

const n2 = (x: number) => Math.round(x * 100) / 100;

/** An annulus sector from fraction f0 to f1 between radii rIn and rOut. */
export function arcPath(cx: number, cy: number, rIn: number, rOut: number, f0: number, f1: number): string {
  if (f1 - f0 >= 0.9999) return `${arcPath(cx, cy, rIn, rOut, f0, f0 + 0.5)} ${arcPath(cx, cy, rIn, rOut, f0 + 0.5, f1)}`;
  const large = f1 - f0 > 0.5 ? 1 : 0;
  const [x0, y0] = pointAt(cx, cy, rOut, f0);
  const [x1, y1] = pointAt(cx, cy, rOut, f1);
  const [x2, y2] = pointAt(cx, cy, rIn, f1);
  const [x3, y3] = pointAt(cx, cy, rIn, f0);
  return `M${n2(x0)},${n2(y0)} A${rOut},${rOut} 0 ${large} 1 ${n2(x1)},${n2(y1)} L${n2(x2)},${n2(y2)} A${rIn},${rIn} 0 ${large} 0 ${n2(x3)},${n2(y3)} Z`;
}

/** Distinct, colour-blind-friendly-ish colours (Tableau 10), then repeated lighter. */
export const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#7f8c8d'];

export function colorOf(id: string, ids: readonly string[]): string {
  const i = ids.indexOf(id);
  return palette[(i < 0 ? 0 : i) % palette.length]!;
}
