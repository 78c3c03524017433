import {
  Chart, LineController, LineElement, PointElement, LinearScale, ScatterController, Tooltip, Legend, Filler,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, ScatterController, Tooltip, Legend, Filler);
// Crisp and fast: no animations (charts are redrawn when filters change).
Chart.defaults.animation = false;
Chart.defaults.font.size = 11;

/** Colours from the CSS theme (light/dark follows the OS). */
export function themeColors(): { fg: string; grid: string; packets: string; retrans: string; failures: string; c2s: string; s2c: string } {
  const s = getComputedStyle(document.documentElement);
  const v = (n: string): string => s.getPropertyValue(n).trim();
  return { fg: v('--fg-dim'), grid: v('--grid'), packets: v('--chart-packets'), retrans: v('--chart-retrans'), failures: v('--chart-fail'), c2s: v('--chart-c2s'), s2c: v('--chart-s2c') };
}

export { Chart };
export type { ChartConfiguration };
