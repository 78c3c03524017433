import { xRange, type Chart, type XRange } from './charts';

/**
 * What a zoomable chart shows of its zoom: the x range on screen (also as `data-*`
 * attributes for the e2e tests) and whether it is zoomed (the "reset zoom" link).
 */
export class ChartZoom {
  range = $state<XRange | null>(null);
  zoomed = $state(false);

  /** Call after every zoom, pan, resize and redraw. */
  changed = (c: Chart): void => {
    this.range = xRange(c);
    this.zoomed = c.isZoomedOrPanned();
  };

  reset(c: Chart | null): void {
    if (!c) return;
    c.resetZoom('none');
    this.changed(c);
  }
}

/** The chart container's `data-*` attributes of a ChartZoom. */
export function zoomAttributes(z: ChartZoom): Record<string, string | number | boolean | undefined> {
  return { 'data-xmin': z.range?.min, 'data-xmax': z.range?.max, 'data-left': z.range?.left, 'data-right': z.range?.right, 'data-zoomed': z.zoomed };
}
