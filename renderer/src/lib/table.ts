import { isArrayOf, isNumber, isRecordOf, isString, loadPref, savePref } from './storage';

/** A column of VirtualTable: how to show one field of a row (always as text). */
export interface Column<R> {
  key: string;
  label: string;
  /** Full name for the header tooltip when the label is an abbreviation ("HS RTT"). */
  header?: string;
  /** CSS grid track: `72px` or `minmax(130px, 1fr)`; never narrower than the label. */
  width: string;
  align?: 'left' | 'right';
  text: (row: R) => string;
  title?: (row: R) => string;
  cls?: (row: R) => string;
  sortable?: boolean;
  /** Hidden until chosen in the column chooser. */
  hidden?: boolean;
  /** Render a waterfall bar instead of text: percentages of the cell width. */
  bar?: (row: R) => { left: number; wait: number; recv: number; failed?: boolean } | null;
}

/** What a table remembers between runs: widths the user dragged, columns shown or hidden. */
export interface TablePrefs {
  widths: Record<string, number>;
  shown: string[];
  hidden: string[];
}

export function loadTablePrefs(table: string): TablePrefs {
  return {
    widths: loadPref(`table.${table}.widths`, {}, isRecordOf(isNumber)),
    shown: loadPref(`table.${table}.shown`, [], isArrayOf(isString)),
    hidden: loadPref(`table.${table}.hidden`, [], isArrayOf(isString)),
  };
}

export function saveTablePrefs(table: string, p: TablePrefs): void {
  savePref(`table.${table}.widths`, p.widths);
  savePref(`table.${table}.shown`, p.shown);
  savePref(`table.${table}.hidden`, p.hidden);
}

export function columnVisible(c: { key: string; hidden?: boolean }, p: TablePrefs): boolean {
  return c.hidden ? p.shown.includes(c.key) : !p.hidden.includes(c.key);
}

/**
 * Room a header needs beside its label: padding (6 + 8 px), its cell's border and rounding.
 * Only the sorted column's header also makes room for the arrow (" ▼").
 */
export const HEADER_EXTRA_PX = 6 + 8 + 2;
/**
 * Narrowest track of an `address:port` column: the widest IPv4 endpoint,
 * "255.255.255.255:65535", fits uncut (IPv6 ones show in full on hover).
 */
export const ENDPOINT_MIN_PX = 172;

/**
 * The grid track of a column: the width the user dragged, else the declared track with its
 * minimum raised to what the header needs, so a header is never cut ("Durati…").
 */
export function columnTrack(width: string, dragged: number | undefined, needPx: number): string {
  if (dragged !== undefined) return `${Math.max(dragged, needPx)}px`;
  const fixed = /^(\d+(?:\.\d+)?)px$/.exec(width);
  if (fixed) return `${Math.max(Number(fixed[1]), needPx)}px`;
  const mm = /^minmax\((\d+(?:\.\d+)?)px,\s*(.+)\)$/.exec(width);
  if (mm) return `minmax(${Math.max(Number(mm[1]), needPx)}px, ${mm[2]})`;
  return width;
}

/** The narrowest a row of these tracks gets (fixed widths plus minmax minimums): wider tables scroll sideways. */
export function tracksMinWidth(tracks: string[]): number {
  let sum = 0;
  for (const t of tracks) {
    const m = /^(?:minmax\()?(\d+(?:\.\d+)?)px/.exec(t);
    sum += m ? Number(m[1]) : 40;
  }
  return Math.ceil(sum);
}
