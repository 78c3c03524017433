/** Header lists kept per exchange: fields per list and octets per list (name + value). */
export const MAX_HEADERS_PER_LIST = 64;
export const MAX_HEADER_OCTETS_PER_LIST = 8 * 1024;
/** Header octets kept per capture over all exchanges; beyond it lists are dropped and counted. */
export const MAX_HEADER_OCTETS_TOTAL = 4 * 1024 * 1024;

/**
 * The request and response header lists of HTTP/1.x, HTTP/2 and HTTP/3 exchanges (the
 * detail view and HAR show them), kept within bounds: MAX_HEADERS_PER_LIST fields and
 * MAX_HEADER_OCTETS_PER_LIST octets per list (a field too long to fit is left out, the later
 * shorter ones still fit), MAX_HEADER_OCTETS_TOTAL per capture (then lists are dropped and
 * counted: one warning). Bodies are never kept.
 */
export class HeaderLists {
  octets = 0;
  dropped = 0;

  /**
   * A copy of the fields within the bounds, or null once the capture's budget is spent. A
   * field whose name is unknown (a QPACK reference to a dynamic-table entry never seen) is left out.
   */
  keep(fields: Iterable<readonly [string | null, string | null]>): [string, string][] | null {
    if (this.octets >= MAX_HEADER_OCTETS_TOTAL) {
      this.dropped++;
      return null;
    }
    const out: [string, string][] = [];
    let octets = 0;
    for (const [name, value] of fields) {
      if (out.length >= MAX_HEADERS_PER_LIST) break;
      if (name === null) continue;
      const v = value ?? '';
      const n = name.length + v.length;
      if (octets + n > MAX_HEADER_OCTETS_PER_LIST) continue;
      out.push([name, v]);
      octets += n;
    }
    this.octets += octets;
    return out;
  }

  /**
   * keep(src.fields), reading the fields only when the capture's budget is not spent (an
   * HTTP/1.x head makes its field list when asked for: most never are in a busy capture).
   */
  keepFieldsOf(src: { readonly fields: Iterable<readonly [string | null, string | null]> }): [string, string][] | null {
    if (this.octets >= MAX_HEADER_OCTETS_TOTAL) {
      this.dropped++;
      return null;
    }
    return this.keep(src.fields);
  }

  /** The report's warning when lists were dropped, else null. */
  warning(): string | null {
    return this.dropped > 0 ? `HTTP header lists of ${this.dropped} message(s) not kept: the ${MAX_HEADER_OCTETS_TOTAL / (1024 * 1024)} MiB kept per capture was reached` : null;
  }
}
