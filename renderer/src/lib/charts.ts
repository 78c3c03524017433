import {
  Chart, LineController, LineElement, PointElement, LinearScale, ScatterController, BarController, BarElement, Tooltip, Legend, Filler,
  type ChartConfiguration,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';

Chart.register(LineController, LineElement, PointElement, LinearScale, ScatterController, BarController, BarElement, Tooltip, Legend, Filler, zoomPlugin);
// Crisp and fast: no animations (charts are redrawn when filters change).
Chart.defaults.animation = false;
Chart.defaults.font.size = 11;

/** Colours from the CSS theme (light/dark follows the OS). */
export function themeColors(): { fg: string; grid: string; packets: string; retrans: string; failures: string; c2s: string; s2c: string } {
  const s = getComputedStyle(document.documentElement);
  const v = (n: string): string => s.getPropertyValue(n).trim();
  return { fg: v('--fg-dim'), grid: v('--grid'), packets: v('--chart-packets'), retrans: v('--chart-retrans'), failures: v('--chart-fail'), c2s: v('--chart-c2s'), s2c: v('--chart-s2c') };
}

/**
 * Zoom and pan as every Tapscope chart has them: the wheel zooms around the pointer, dragging
 * a box zooms to it (unless `drag` is false, where the drag has another job: the timeline's
 * brush), Shift+drag pans, and a double-click resets (see `resetOnDoubleClick`). Zooming
 * never leaves the data's original range. `onChange` runs after every zoom or pan.
 */
export function zoomOptions(mode: 'x' | 'xy', onChange: (c: Chart) => void, drag = true) {
  return {
    limits: { x: { min: 'original', max: 'original' }, y: { min: 'original', max: 'original' } },
    pan: { enabled: true, mode, modifierKey: 'shift', onPanComplete: ({ chart }: { chart: Chart }) => onChange(chart) },
    zoom: {
      mode,
      wheel: { enabled: true, speed: 0.2 },
      pinch: { enabled: true },
      drag: { enabled: drag, threshold: 6, backgroundColor: 'rgba(90, 140, 220, 0.15)', borderColor: 'rgba(90, 140, 220, 0.8)', borderWidth: 1 },
      onZoomComplete: ({ chart }: { chart: Chart }) => onChange(chart),
    },
  } as const;
}

/** The x-axis range on screen and the plot area's pixels (what the e2e tests read from `data-*`). */
export interface XRange { min: number; max: number; left: number; right: number }
export function xRange(c: Chart): XRange {
  return { min: c.scales.x.min, max: c.scales.x.max, left: c.chartArea?.left ?? 0, right: c.chartArea?.right ?? 0 };
}

export { Chart };
export type { ChartConfiguration };
