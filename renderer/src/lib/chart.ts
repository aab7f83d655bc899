// uPlot options shared by every time-series chart: a fixed 5-minute window ending at the
// newest sample, no zoom (data arrives every second), and the fault markers drawn as
// vertical lines on top of the series.

import uPlot from 'uplot';
import { type FaultMark, windowSeconds } from './history';
import { cssVar } from './theme.svelte';

export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  readonly dash?: readonly number[];
  readonly width?: number;
  readonly fill?: string;
}

export type ValueFormat = (v: number | null) => string;

export const markColors: Record<FaultMark['kind'], string> = {
  injected: '#dc2626',
  healed: '#16a34a',
  action: '#7c3aed',
};

/** Vertical lines at the fault events in view, labelled at the top. */
export function faultMarkers(marks: () => readonly FaultMark[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u: uPlot) => {
          const min = u.scales.x?.min;
          const max = u.scales.x?.max;
          if (min === undefined || max === undefined || min === null || max === null) return;
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          const px = uPlot.pxRatio;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          ctx.font = `${Math.round(10 * px)}px system-ui, sans-serif`;
          ctx.textBaseline = 'top';
          let lastLabelX = -Infinity;
          for (const m of marks()) {
            const t = m.at / 1000;
            if (t < min || t > max) continue;
            const x = Math.round(u.valToPos(t, 'x', true));
            ctx.strokeStyle = markColors[m.kind];
            ctx.lineWidth = 1.5 * px;
            ctx.setLineDash(m.kind === 'injected' ? [] : [4 * px, 3 * px]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            // Labels only where they do not overlap the previous one.
            if (x - lastLabelX > 90 * px) {
              const text = m.label.length > 28 ? `${m.label.slice(0, 27)}…` : m.label;
              ctx.fillStyle = markColors[m.kind];
              ctx.fillText(text, Math.min(x + 3 * px, left + width - ctx.measureText(text).width - 2 * px), top + 2 * px);
              lastLabelX = x;
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** An axis time: HH:MM, or HH:MM:SS off the minute. */
function clock(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}${d.getSeconds() ? `:${p(d.getSeconds())}` : ''}`;
}

/** An axis date and time for ranges of days: DD/MM HH:MM. */
function day(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getDate())}/${p(d.getMonth() + 1)} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function chartOptions(o: {
  readonly width: number;
  readonly height: number;
  readonly series: readonly SeriesSpec[];
  readonly format: ValueFormat;
  /** For the axis ticks (default: format). */
  readonly axisFormat?: ValueFormat | undefined;
  readonly marks: () => readonly FaultMark[];
  readonly yMin?: number;
  /**
   * A fixed time range (s since the epoch) with drag-to-zoom (the History screen); without it,
   * the live window: the last 5 minutes ending at the newest sample.
   */
  readonly range?: () => readonly [number, number];
  readonly onZoom?: (from: number, to: number) => void;
}): uPlot.Options {
  const fmt = o.format;
  const axisFmt = o.axisFormat ?? o.format;
  const axis = cssVar('--chart-axis', '#5f6b7a');
  const grid = cssVar('--chart-grid', '#eef0f3');
  const range = o.range;
  const onZoom = o.onZoom;
  return {
    width: o.width,
    height: o.height,
    padding: [8, 8, 0, 0],
    cursor: { drag: { x: range !== undefined, y: false, setScale: false }, points: { size: 6 } },
    legend: { live: true },
    scales: {
      // Live: the last 5 minutes; while the history is shorter, at least a minute, growing with it.
      x: { time: true, range: (_u, min, max) => (range ? [range()[0], range()[1]] : [max - Math.min(windowSeconds, Math.max(60, max - min)), max]) },
      y: { range: (_u, min, max) => [Math.min(o.yMin ?? 0, Number.isFinite(min) ? min : 0), Number.isFinite(max) && max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { stroke: axis, space: 70, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: (_u, splits) => splits.map((v) => (range && range()[1] - range()[0] > 2 * 86_400 ? day(v) : clock(v))) },
      { stroke: axis, size: 64, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: (_u, splits) => splits.map((v) => axisFmt(v)) },
    ],
    series: [
      { label: 'time', value: (_u, v) => (v === null ? '—' : clock(Math.round(v))) },
      ...o.series.map(
        (s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          ...(s.dash ? { dash: [...s.dash] } : {}),
          ...(s.fill ? { fill: s.fill } : {}),
          points: { show: false },
          spanGaps: false,
          value: (_u, v) => fmt(v),
        }),
      ),
    ],
    plugins: [faultMarkers(o.marks)],
    hooks: {
      // With the cursor off the plot the legend shows the newest values, not dashes (uPlot
      // leaves it blank until hovered). After each draw, since setData's commit resets it.
      draw: [
        (u: uPlot) => {
          const n = (u.data[0] as ArrayLike<number> | undefined)?.length ?? 0;
          if (n === 0 || (u.cursor.idx !== null && u.cursor.idx !== undefined)) return;
          // The newest point that has a value (History's last bucket may still be empty).
          let idx = n - 1;
          for (let back = 0; back < 30 && idx > 0 && u.data.slice(1).every((col) => col[idx] === null || col[idx] === undefined); back++) idx--;
          if (u.legend.idxs?.[0] !== idx) u.setLegend({ idx });
        },
      ],
      // Drag across a History chart: zoom to the span selected (the screen refetches at that resolution).
      setSelect: [
        (u: uPlot) => {
          if (!onZoom || u.select.width < 4) return;
          const from = u.posToVal(u.select.left, 'x');
          const to = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          onZoom(from, to);
        },
      ],
    },
  };
}
