/**
 * Small preferences in localStorage (column widths, filter history, saved filters), read
 * back with a shape check: a value another version wrote, or junk, gives the default.
 */
const PREFIX = 'tapscope.';

export function loadPref<T>(key: string, fallback: T, valid: (v: unknown) => v is T): T {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    if (raw === null) return fallback;
    const v: unknown = JSON.parse(raw);
    return valid(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

export function savePref(key: string, value: unknown): void {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the preference lasts until reload.
  }
}

export const isRecordOf = <T>(item: (v: unknown) => v is T) => (v: unknown): v is Record<string, T> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(item);
export const isArrayOf = <T>(item: (v: unknown) => v is T) => (v: unknown): v is T[] => Array.isArray(v) && v.every(item);
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isString = (v: unknown): v is string => typeof v === 'string';
