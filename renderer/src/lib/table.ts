/** A column of VirtualTable: how to show one field of a row (always as text). */
export interface Column<R> {
  key: string;
  label: string;
  width: string;
  align?: 'left' | 'right';
  text: (row: R) => string;
  title?: (row: R) => string;
  cls?: (row: R) => string;
  sortable?: boolean;
  /** Render a waterfall bar instead of text: percentages of the cell width. */
  bar?: (row: R) => { left: number; wait: number; recv: number; failed?: boolean } | null;
}
