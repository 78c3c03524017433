import type { Frame } from '../decode/frame.js';
import type { TunnelSummary } from '../engine/report.js';
import type { FrameAnalyzer } from './types.js';

/** Counts packets per tap source: each encapsulation layer (type, id, outer addresses). */
export class TunnelCounter implements FrameAnalyzer {
  private byKey = new Map<string, TunnelSummary>();

  onFrame(f: Frame): void {
    for (let i = 0; i < f.tunnelCount; i++) {
      const t = f.tunnels[i];
      const key = `${t.type}|${t.id}|${t.outerSrc}|${t.outerDst}`;
      let s = this.byKey.get(key);
      if (!s) {
        s = { type: t.type, id: t.id, outerSrc: t.outerSrc, outerDst: t.outerDst, packets: 0 };
        this.byKey.set(key, s);
      }
      s.packets++;
    }
  }

  summary(): TunnelSummary[] {
    return [...this.byKey.values()];
  }
}
