// Number, time and size formatting: fixed shapes so figures do not jump at 1 Hz.

export const dash = '—';

export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return dash;
  if (v === 0) return '0 ms';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 10_000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** Axis ticks: short, no trailing zeros ("0", "0.5 ms", "12 ms", "1.5 s"). */
export function fmtMsAxis(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v === 0) return '0';
  if (v >= 1000) return `${+(v / 1000).toFixed(2)} s`;
  return `${+v.toPrecision(3)} ms`;
}

/**
 * One formatter per number of digits: toLocaleString with options builds an Intl.NumberFormat
 * on every call, and with 100 nodes that was 29% of the renderer's script time per snapshot
 * (docs/performance.md).
 */
const numberFormats = new Map<number, Intl.NumberFormat>();

export function fmtNum(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return dash;
  let f = numberFormats.get(digits);
  if (!f) numberFormats.set(digits, (f = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })));
  return f.format(v);
}

export function fmtRate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return dash;
  return `${fmtNum(v, v < 10 ? 1 : 0)}/s`;
}

export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return dash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

/** A duration in ms as "1h 02m", "3m 05s", "12.3 s", "850 ms". */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return dash;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return dash;
  const d = Math.max(0, now - at);
  return d < 1500 ? 'just now' : `${fmtDuration(d)} ago`;
}

export function fmtTime(at: number): string {
  const d = new Date(at);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtPhi(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return dash;
  return v >= 100 ? v.toExponential(1) : v.toFixed(2);
}

/** "a, b, c +4 more" */
export function fmtList(items: readonly (string | number)[], max = 8): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} +${items.length - max} more`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
