import { isIP } from 'node:net';
import { API_METHODS, ApiError, type ApiMethod } from '../../preload/api.js';

/*
 * Argument checks for every API method, run on the main side before anything else:
 * the renderer (and in browser mode anyone holding the token) is not trusted to send
 * well-formed values. Unknown keys are dropped; wrong types are an error naming the field.
 */

type Obj = Record<string, unknown>;

const MAX_LIMIT = 5000;
const MAX_DISPLAY_FILTER = 4000;

function fail(where: string, what: string): never {
  throw new ApiError(`invalid argument ${where}: ${what}`, 'invalid-argument');
}

function obj(v: unknown, where: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(where, 'expected an object');
  return v as Obj;
}

function str(v: unknown, where: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max) fail(where, `expected a string of at most ${max} characters`);
  return v as string;
}

function optStr(v: unknown, where: string, max = 4096): string | null {
  return v === undefined || v === null ? null : str(v, where, max);
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, `expected an integer in ${min}..${max}`);
  return v as number;
}

function optNum(v: unknown, where: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, 'expected a finite number');
  return v as number;
}

function optBool(v: unknown, where: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') fail(where, 'expected a boolean');
  return v as boolean;
}

function sessionId(v: unknown): string {
  const s = str(v, 'sessionId', 64);
  if (!/^[A-Za-z0-9_-]+$/.test(s)) fail('sessionId', 'malformed');
  return s;
}

function filter(v: unknown): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  const f = obj(v, 'filter');
  let ids: number[] | null = null;
  if (f.connectionIds !== undefined && f.connectionIds !== null) {
    if (!Array.isArray(f.connectionIds) || f.connectionIds.length > 1_000_000) fail('filter.connectionIds', 'expected an array of ids');
    ids = (f.connectionIds as unknown[]).map((x, i) => int(x, `filter.connectionIds[${i}]`, 0, 2 ** 31));
  }
  return {
    timeFrom: optNum(f.timeFrom, 'filter.timeFrom'),
    timeTo: optNum(f.timeTo, 'filter.timeTo'),
    tunnel: optStr(f.tunnel, 'filter.tunnel', 200),
    connectionIds: ids,
  };
}

function table(v: unknown): Obj {
  const q = obj(v, 'query');
  const dir = q.sortDir ?? 'asc';
  if (dir !== 'asc' && dir !== 'desc') fail('sortDir', 'expected "asc" or "desc"');
  const key = optStr(q.sortKey, 'sortKey', 64);
  if (key !== null && !/^[A-Za-z]+$/.test(key)) fail('sortKey', 'malformed');
  return {
    sessionId: sessionId(q.sessionId),
    offset: int(q.offset ?? 0, 'offset', 0, 2 ** 31),
    limit: int(q.limit ?? 100, 'limit', 0, MAX_LIMIT),
    sortKey: key,
    sortDir: dir,
    text: optStr(q.text, 'text', 500),
    filter: filter(q.filter),
  };
}

function connectionQuery(v: unknown): Obj {
  const q = obj(v, 'query');
  const state = optStr(q.state, 'state', 40);
  const transport = q.transport ?? null;
  if (transport !== null && transport !== 'tcp' && transport !== 'udp' && transport !== 'quic') fail('transport', 'expected "tcp", "udp" or "quic"');
  return {
    ...table(q),
    host: optStr(q.host, 'host', 300),
    port: q.port === undefined || q.port === null ? null : int(q.port, 'port', 0, 65535),
    state,
    problemsOnly: optBool(q.problemsOnly, 'problemsOnly'),
    transport,
  };
}

function packetQuery(v: unknown): Obj {
  const q = obj(v, 'query');
  return {
    ...table(q),
    connectionId: q.connectionId === undefined || q.connectionId === null ? null : int(q.connectionId, 'connectionId', 0, 2 ** 31),
    flaggedOnly: optBool(q.flaggedOnly, 'flaggedOnly'),
    displayFilter: optStr(q.displayFilter, 'displayFilter', MAX_DISPLAY_FILTER),
  };
}

function format(v: unknown): 'pcap' | 'pcapng' {
  if (v !== 'pcap' && v !== 'pcapng') fail('format', 'expected "pcap" or "pcapng"');
  return v as 'pcap' | 'pcapng';
}

/** An unfinished capture's id: its marker's file name, never a path. */
function unfinishedId(v: unknown): string {
  const s = str(v, 'id', 255);
  if (!/^[A-Za-z0-9_.-]+\.tapscope\.json$/.test(s) || s.startsWith('.')) fail('id', 'malformed');
  return s;
}

const none = (args: unknown[]): unknown[] => {
  if (args.length) fail('', 'this method takes no arguments');
  return [];
};
const sid = (args: unknown[]): unknown[] => [sessionId(args[0])];

const VALIDATORS: Record<ApiMethod, (args: unknown[]) => unknown[]> = {
  version: none,
  openFile: ([r]) => {
    const o = obj(r, 'request');
    const decodeAs = o.decodeAs ?? [];
    if (!Array.isArray(decodeAs) || decodeAs.length > 32) fail('decodeAs', 'expected an array of strings');
    const keylogPath = o.keylogPath === undefined ? {} : { keylogPath: str(o.keylogPath, 'keylogPath') };
    const alertsPath = o.alertsPath === undefined ? {} : { alertsPath: str(o.alertsPath, 'alertsPath') };
    return [{ path: str(o.path, 'path'), decodeAs: (decodeAs as unknown[]).map((d, i) => str(d, `decodeAs[${i}]`, 64)), ...keylogPath, ...alertsPath }];
  },
  openSample: none,
  cancelOpen: sid,
  closeSession: sid,
  summary: sid,
  recentFiles: none,
  connections: ([q]) => [connectionQuery(q)],
  packets: ([q]) => [packetQuery(q)],
  http: ([q]) => [table(q)],
  dns: ([q]) => [table(q)],
  tls: ([q]) => [table(q)],
  quic: ([q]) => [table(q)],
  findings: ([q]) => [table(q)],
  tunnels: sid,
  timeline: ([q]) => {
    const o = obj(q, 'query');
    return [{ sessionId: sessionId(o.sessionId), buckets: int(o.buckets, 'buckets', 1, 2000), filter: filter(o.filter) }];
  },
  ioGraph: ([q]) => {
    const o = obj(q, 'query');
    const interval = optNum(o.interval, 'interval');
    if (interval !== null && (interval < 0.001 || interval > 3600)) fail('interval', 'expected seconds from 0.001 to 3600, or null for auto');
    return [{ sessionId: sessionId(o.sessionId), interval, filter: filter(o.filter), displayFilter: optStr(o.displayFilter, 'displayFilter', MAX_DISPLAY_FILTER) }];
  },
  connectionDetail: ([s, c]) => [sessionId(s), int(c, 'connectionId', 0, 2 ** 31)],
  followStream: ([v]) => {
    const q = obj(v, 'query');
    return [{ sessionId: sessionId(q.sessionId), connectionId: int(q.connectionId, 'connectionId', 0, 2 ** 31), maxBytes: q.maxBytes === undefined || q.maxBytes === null ? undefined : int(q.maxBytes, 'maxBytes', 1, 16 << 20),
      h2Stream: q.h2Stream === undefined || q.h2Stream === null ? null : int(q.h2Stream, 'h2Stream', 0, 2 ** 31 - 1),
      h3Stream: q.h3Stream === undefined || q.h3Stream === null ? null : int(q.h3Stream, 'h3Stream', 0, 2 ** 53 - 1) }];
  },
  decodePacket: ([s, n]) => [sessionId(s), int(n, 'packetNumber', 1, 2 ** 40)],
  checkDisplayFilter: ([t]) => [str(t, 'text', MAX_DISPLAY_FILTER)],
  saveCapture: ([r]) => {
    const o = obj(r, 'request');
    return [{
      sessionId: sessionId(o.sessionId), format: format(o.format),
      connectionId: o.connectionId === undefined || o.connectionId === null ? null : int(o.connectionId, 'connectionId', 0, 2 ** 31),
      filter: filter(o.filter), displayFilter: optStr(o.displayFilter, 'displayFilter', MAX_DISPLAY_FILTER), path: optStr(o.path, 'path'),
      embedKeys: optBool(o.embedKeys, 'embedKeys'),
    }];
  },
  exportHar: ([r]) => {
    const o = obj(r, 'request');
    return [{ sessionId: sessionId(o.sessionId), filter: filter(o.filter), path: optStr(o.path, 'path') }];
  },
  chooseSavePath: ([n]) => [str(n, 'defaultName', 255)],
  chooseOpenPath: none,
  listInterfaces: none,
  validateFilter: ([f]) => [str(f, 'filter', 2000)],
  startCapture: ([r]) => {
    const o = obj(r, 'request');
    return [{ interface: str(o.interface, 'interface', 256), filter: optStr(o.filter, 'filter', 2000), keylogPath: optStr(o.keylogPath, 'keylogPath'), alertsPath: optStr(o.alertsPath, 'alertsPath') }];
  },
  stopCapture: sid,
  startListen: ([r]) => {
    const o = obj(r, 'request');
    if (!Array.isArray(o.feeds) || o.feeds.length < 1 || o.feeds.length > 8) fail('feeds', 'expected 1..8 feeds');
    const feeds = (o.feeds as unknown[]).map((f, i) => {
      const x = obj(f, `feeds[${i}]`);
      if (x.encap !== 'vxlan' && x.encap !== 'geneve' && x.encap !== 'tzsp') fail(`feeds[${i}].encap`, 'expected "vxlan", "geneve" or "tzsp"');
      return { encap: x.encap, port: int(x.port, `feeds[${i}].port`, 0, 65535) };
    });
    const save = o.save ?? 'received';
    if (save !== 'received' && save !== 'inner') fail('save', 'expected "received" or "inner"');
    const address = optStr(o.address, 'address', 64);
    if (address !== null && !isIP(address)) fail('address', 'expected an IPv4 or IPv6 address');
    return [{ feeds, save, address, alertsPath: optStr(o.alertsPath, 'alertsPath') }];
  },
  unfinishedCaptures: none,
  openUnfinished: ([i]) => [unfinishedId(i)],
  discardUnfinished: ([i]) => [unfinishedId(i)],
};

/** Checks a call's method name and arguments; returns the cleaned arguments. */
export function validateCall(method: unknown, args: unknown): { method: ApiMethod; args: unknown[] } {
  if (typeof method !== 'string' || !(API_METHODS as readonly string[]).includes(method)) {
    throw new ApiError(`unknown method ${JSON.stringify(String(method)).slice(0, 80)}`, 'unknown-method');
  }
  if (!Array.isArray(args) || args.length > 4) throw new ApiError('arguments must be an array', 'invalid-argument');
  const m = method as ApiMethod;
  return { method: m, args: VALIDATORS[m](args) };
}

/**
 * The in-process transport: every method of `target` behind the same validation the IPC
 * and WebSocket transports apply (the contract suite runs one set of calls over all).
 */
export function validatedApi<T extends object>(target: T): T {
  const out: Record<string, unknown> = {};
  for (const m of API_METHODS) {
    out[m] = (...args: unknown[]) => {
      try {
        const v = validateCall(m, args);
        return ((target as Record<string, (...a: unknown[]) => Promise<unknown>>)[m]).apply(target, v.args);
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return Object.assign(Object.create(target) as object, out) as T;
}
