import { isArrayOf, isRecordOf, isString, loadPref, savePref } from './storage';

/*
 * The display-filter bar's memory: the last filters applied (newest first) and filters saved
 * under a name, in localStorage. `tcp.analysis.flags` is offered as a saved filter from the
 * start (it replaces the old "only packets with analysis flags" checkbox).
 */

export const HISTORY_MAX = 20;
export const DEFAULT_SAVED: Record<string, string> = { 'TCP analysis flags': 'tcp.analysis.flags' };

export function loadHistory(): string[] {
  return loadPref('filters.history', [], isArrayOf(isString)).slice(0, HISTORY_MAX);
}

/** Puts `text` first in the history (once) and stores it; returns the new history. */
export function remember(text: string): string[] {
  const h = [text, ...loadHistory().filter((x) => x !== text)].slice(0, HISTORY_MAX);
  savePref('filters.history', h);
  return h;
}

export function loadSaved(): Record<string, string> {
  return loadPref('filters.saved', DEFAULT_SAVED, isRecordOf(isString));
}

export function saveNamed(name: string, text: string): Record<string, string> {
  const s = { ...loadSaved(), [name]: text };
  savePref('filters.saved', s);
  return s;
}

export function forgetNamed(name: string): Record<string, string> {
  const { [name]: _gone, ...rest } = loadSaved();
  savePref('filters.saved', rest);
  return rest;
}

/** The caret line under a filter: spaces to the 1-based column, then ^ over the error's length. */
export function caretLine(column: number, length: number): string {
  return ' '.repeat(Math.max(0, column - 1)) + '^'.repeat(Math.max(1, length));
}
