/** Display helpers. Every value ends up as text (Svelte `{}` interpolation), never HTML. */

export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '';
  const a = Math.abs(s);
  if (a < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (a < 1) return `${(s * 1e3).toFixed(a < 0.01 ? 2 : 1)} ms`;
  if (a < 120) return `${s.toFixed(2)} s`;
  if (a < 7200) return `${(s / 60).toFixed(1)} min`;
  if (a < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function fmtCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '' : n.toLocaleString('en-US');
}

/** Clock time of an epoch timestamp, to the microsecond (UTC, as the CLI prints). */
export function fmtClock(ts: number | null | undefined): string {
  if (ts === null || ts === undefined) return '';
  const d = new Date(Math.floor(ts) * 1000);
  const us = Math.round((ts - Math.floor(ts)) * 1e6).toString().padStart(6, '0');
  return `${d.toISOString().slice(11, 19)}.${us}`;
}

export function fmtDate(ts: number | null | undefined): string {
  if (ts === null || ts === undefined) return '';
  return new Date(ts * 1000).toISOString().replace('T', ' ').slice(0, 23) + ' UTC';
}

export function fmtRel(ts: number, start: number | null): string {
  return start === null ? '' : (ts - start).toFixed(3);
}

export function endpoint(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

export function tunnelText(t: { type: string; id: number | null }[]): string {
  return t.map((x) => `${x.type}${x.id !== null ? ` ${x.id}` : ''}`).join(' / ');
}

export const DNS_RCODES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
