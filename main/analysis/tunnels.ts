import type { Frame } from '../decode/frame.js';
import type { TunnelSummary } from '../engine/report.js';
import type { FrameAnalyzer } from './types.js';

/** Counts packets per tap source: each encapsulation layer (type, id, outer addresses). */
export class TunnelCounter implements FrameAnalyzer {
  private byKey = new Map<string, TunnelSummary>();
  /** The summaries of the previous packet's layers: a feed's packets share one stack. */
  private previous: (TunnelSummary | undefined)[] = [];

  onFrame(f: Frame): void {
    for (let i = 0; i < f.tunnelCount; i++) {
      const t = f.tunnels[i];
      let s = this.previous[i];
      if (s && s.type === t.type && s.id === t.id && s.outerSrc === t.outerSrc && s.outerDst === t.outerDst) {
        s.packets++;
        continue;
      }
      const key = `${t.type}|${t.id}|${t.outerSrc}|${t.outerDst}`;
      s = this.byKey.get(key);
      if (!s) {
        s = { type: t.type, id: t.id, outerSrc: t.outerSrc, outerDst: t.outerDst, packets: 0 };
        this.byKey.set(key, s);
      }
      this.previous[i] = s;
      s.packets++;
    }
  }

  summary(): TunnelSummary[] {
    return [...this.byKey.values()];
  }
}
