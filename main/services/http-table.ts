import type { HttpRow } from '../../preload/api.js';
import { HttpExchangeStore } from '../analysis/http-exchange-store.js';
import { exchangeJson } from '../analysis/http-exchanges.js';
import { applyItemsDelta, type ItemsDelta } from '../engine/session-deltas.js';
import { httpRow } from './rows.js';

type Obj = Record<string, unknown>;

/**
 * The HTTP table of one session (issue 10). While a live capture runs: rows from the
 * deltas. Once a file is read: the worker's exchange store itself (typed columns and a
 * byte pool, transferred, not cloned), from which a row is built only when a page, a
 * connection's detail or a query asks for it; no array of every row is kept.
 */
export class HttpTable {
  private rows: HttpRow[] = [];
  private store: HttpExchangeStore | null = null;

  get length(): number {
    return this.store ? this.store.count : this.rows.length;
  }

  applyDelta(d: ItemsDelta): void {
    this.store = null;
    applyItemsDelta(this.rows, d, httpRow);
  }

  /** The report's `http` array (a live capture's end). */
  setJson(all: Obj[]): void {
    this.store = null;
    this.rows = all.map(httpRow);
  }

  /** The exchange store posted by the file worker (its classes given back here). */
  setStore(posted: HttpExchangeStore): void {
    this.store = HttpExchangeStore.revive(posted);
    this.rows = [];
  }

  /** Element `i` of the report's `http` array. */
  json(i: number): Obj {
    return this.store ? exchangeJson(this.store.at(i)) : (this.rows[i] as unknown as Obj);
  }

  /** Row `i`, complete. */
  row(i: number): HttpRow {
    return this.store ? httpRow(exchangeJson(this.store.at(i)), i) : this.rows[i];
  }

  /**
   * Row `i` for reading its scalar fields (filters, sorting, the timeline): a settled
   * exchange's header lists are left out (null), so nothing is decoded from the pool but
   * the URI.
   */
  leanRow(i: number): HttpRow {
    return this.store ? httpRow(exchangeJson(this.store.at(i, true)), i) : this.rows[i];
  }
}
