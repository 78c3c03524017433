/**
 * The one contract between the user interface and the main-side services. Everything the
 * renderer may ask is a method here; both transports (Electron IPC through `preload/`,
 * and the WebSocket of browser mode, `tapscope serve`) are derived from `API_METHODS`
 * and `API_EVENTS`, and the main side validates every argument (`main/services/validate.ts`).
 *
 * Only pages and summaries cross the transport: never a whole table, never per-packet
 * messages. Every string that came out of a packet (URIs, headers, SNI, DNS names,
 * comments) is data and must be rendered as text.
 *
 * This file is imported by the renderer too: types only, plus the two name lists.
 */

// ---- Sessions --------------------------------------------------------------------------

/** A file being read (or read) and analysed. States: opening -> ready | damaged | cancelled | failed. */
export type SessionState = 'opening' | 'ready' | 'damaged' | 'cancelled' | 'failed';

export interface OpenFileRequest {
  path: string;
  /** Decode-As entries, e.g. "udp:31337=tzsp". */
  decodeAs?: string[];
  /** An NSS key log (SSLKEYLOGFILE) to decrypt TLS with; keys in pcapng DSBs are always used. */
  keylogPath?: string;
  /** A Suricata eve.json whose alerts are joined to the connections (docs/flows.md "IDS alerts"). */
  alertsPath?: string;
}

export interface SessionInfo {
  sessionId: string;
  path: string;
  name: string;
  state: SessionState;
  /** A live capture (the path is its spool file); 'opening' lasts until it stops. */
  live?: boolean;
  /** A cloud-TAP receiver: the UDP ports it listens on. */
  feeds?: TapFeed[];
}

export interface Progress {
  sessionId: string;
  state: SessionState;
  bytesRead: number;
  size: number;
  packets: number;
  connections: number;
  /** The last error or warning worth showing (damaged file, cancelled). */
  message: string | null;
}

export interface FileSummary {
  path: string;
  format: 'pcap' | 'pcapng' | null;
  linkTypes: number[];
  packets: number;
  bytes: number;
  firstTs: number | null;
  lastTs: number | null;
  interfaces: { id: number; linkType: number; name: string | null; description: string | null }[];
  comments: { packet: number | null; text: string }[];
}

export interface SessionSummary {
  sessionId: string;
  state: SessionState;
  progress: Progress;
  file: FileSummary;
  warnings: { packet: number | null; offset: number | null; message: string }[];
  counts: { connections: number; http: number; dns: number; tls: number; findings: number; tunnels: number };
  /** Which analyses the engine provides yet (fields other analysers fill may be absent). */
  features: { tcpAnalysis: boolean; http: boolean; dns: boolean; tls: boolean; findings: boolean; pcapWriter: boolean };
}

export interface RecentFile {
  path: string;
  name: string;
  openedAt: number;
}

// ---- Filters and pages ------------------------------------------------------------------

/** Applies to every view: time range (brush), tap source, evidence of a finding. */
export interface ViewFilter {
  timeFrom?: number | null;
  timeTo?: number | null;
  /** Tunnel key "type:id" (e.g. "vxlan:4242"); "none" for traffic outside any tunnel. */
  tunnel?: string | null;
  /** Restrict to these connections (a finding's evidence). */
  connectionIds?: number[] | null;
}

export type SortDir = 'asc' | 'desc';

export interface TableQuery {
  sessionId: string;
  offset: number;
  limit: number;
  sortKey?: string | null;
  sortDir?: SortDir;
  /** Free text matched against every text column. */
  text?: string | null;
  filter?: ViewFilter;
}

export interface ConnectionQuery extends TableQuery {
  host?: string | null;
  port?: number | null;
  state?: string | null;
  problemsOnly?: boolean;
  transport?: 'tcp' | 'udp' | 'quic' | null;
}

export interface PacketQuery extends TableQuery {
  connectionId?: number | null;
  /** Only packets that earned at least one analysis flag. */
  flaggedOnly?: boolean;
  /**
   * A Wireshark display filter (`tcp.analysis.retransmission && ip.addr == 10.0.0.0/8`,
   * docs/display-filters.md). A filter that does not compile rejects the call with an
   * ApiError of code 'bad-filter' whose message is checkDisplayFilter's.
   */
  displayFilter?: string | null;
}

/** checkDisplayFilter's answer: ok, or one line saying what was expected and where. */
export interface DisplayFilterCheck {
  ok: boolean;
  /** E.g. `"tcp.prot" is neither a field nor a protocol name.`; null when ok. */
  message: string | null;
  /** 1-based column where the error starts; null when ok. */
  column: number | null;
  /** Characters of the filter the error covers (at least 1); null when ok. */
  length: number | null;
}

export interface Page<T> {
  offset: number;
  /** Rows matching the query. */
  total: number;
  /** Rows in the session before the query's filters. */
  unfiltered: number;
  rows: T[];
}

// ---- Rows -------------------------------------------------------------------------------

export interface Endpoint {
  ip: string;
  port: number;
}

export interface TunnelRef {
  type: string;
  id: number | null;
}

export interface ConnectionRow {
  id: number;
  /** 'quic': a UDP conversation carrying a QUIC connection (its SNI is the site). */
  transport: 'tcp' | 'udp' | 'quic';
  client: Endpoint;
  server: Endpoint;
  tunnel: TunnelRef[];
  /** SNI or HTTP Host seen on this connection. */
  site: string | null;
  firstTs: number;
  lastTs: number;
  duration: number;
  packets: number;
  bytes: number;
  state: string | null;
  handshakeRtt: number | null;
  rttMedian: number | null;
  rttMax: number | null;
  retransmissions: number;
  resets: number;
  /** Count of problem indicators (retransmissions, resets, refused, lost, zero windows...). */
  problems: number;
  /** Short names of the problems, for the highlight tooltip. */
  problemKinds: string[];
  /** Community ID v1 (seed 0) of the conversation, as IDSs compute it; null for non-IP. */
  communityId: string | null;
}

/** A Suricata alert joined to the traffic (the report's `alerts[]`, README). */
export interface AlertRow {
  signatureId: number;
  signature: string;
  category: string;
  /** Suricata's severity (1 highest), null when the record has none. */
  severity: number | null;
  ts: number;
  src: { ip: string; port: number | null };
  dst: { ip: string; port: number | null };
  proto: string;
  communityId: string | null;
  /** The connection it joined, null when none matched. */
  connectionId: number | null;
}

export interface PacketRow {
  /** 1-based, as Wireshark numbers frames. */
  number: number;
  ts: number;
  connectionId: number | null;
  /** 'c2s' client to server, 's2c' server to client. */
  direction: 'c2s' | 's2c' | null;
  length: number;
  src: string;
  dst: string;
  protocol: string;
  info: string;
  /** Analysis flags this packet earned ("Retransmission", "Dup ACK #2", ...). */
  flags: string[];
}

export interface HttpRow {
  index: number;
  connectionId: number;
  method: string;
  host: string | null;
  uri: string;
  status: number | null;
  requestTs: number;
  responseTs: number | null;
  timeToFirstByte: number | null;
  duration: number | null;
  requestBytes: number;
  responseBytes: number;
  contentType: string | null;
  /** HTTP/2 and HTTP/3 streams are `h2`/`h3` with their stream id; `error` as in the JSON ("RST_STREAM CANCEL"). */
  protocol: 'http/1.1' | 'h2' | 'h3';
  streamId: number | null;
  error: string | null;
  /** [name, value] in order as sent (bounded per exchange and per capture), null when not kept. */
  requestHeaders: [string, string][] | null;
  responseHeaders: [string, string][] | null;
}

export interface DnsRow {
  index: number;
  transport: string;
  client: string;
  server: string;
  id: number;
  qname: string;
  qtype: string;
  rcode: number | null;
  answers: string[];
  queryTs: number;
  responseTime: number | null;
}

export interface TlsRow {
  index: number;
  connectionId: number;
  sni: string | null;
  alpn: string[];
  version: string | null;
  handshakeTime: number | null;
  alert: string | null;
  certificate: { subject: string; issuer: string; notBefore: string; notAfter: string } | null;
  /** Records were decrypted (key log or DSB); else `undecryptedReason` says why not (as in the JSON). */
  decrypted: boolean;
  undecryptedReason: string | null;
}

/** One QUIC connection (the JSON's quic[] entry). */
export interface QuicRow {
  index: number;
  connectionId: number;
  version: string;
  sni: string | null;
  alpn: string[];
  state: string;
  handshakeTime: number | null;
  closeError: string | null;
  closedBy: 'client' | 'server' | null;
  spinRtt: number | null;
  tlsVersion: string | null;
  cipher: string | null;
  retry: 'valid' | 'invalid' | null;
  zeroRtt: boolean;
  /** The UDP conversations (connection ids) it used: its own first, then those it migrated to. */
  paths: number[];
}

/** One QUIC packet of a connection: its type (encryption level) and whether it was decrypted. */
export interface QuicPacketRow {
  /** 1-based packet (datagram) number; coalesced QUIC packets share it. */
  number: number;
  ts: number;
  dir: 'c2s' | 's2c';
  type: string;
  decryption: 'decrypted' | 'failed' | 'no keys' | 'clear';
  /** Which of the detail's QUIC connections (index in `connections`). */
  quic: number;
}

/** The QUIC side of a connection's detail (its packets re-read with the session's keys). */
export interface QuicDetail {
  connections: QuicRow[];
  /** Per QUIC connection (index in `connections`), its paths (docs/quic.md "Differences from tshark": migration). */
  paths: { quic: number; connectionId: number; client: string; server: string; firstTs: number; lastTs: number; packets: number }[];
  packets: QuicPacketRow[];
  /** The handshake's milestones in time order (client Initial, Retry, server Initial, ServerHello, handshake complete, first 1-RTT, close). */
  timeline: { ts: number; label: string; quic: number }[];
  /** More packets than listed (the list is bounded). */
  truncated: boolean;
}

export interface FindingRow {
  id: string;
  severity: 'critical' | 'warning' | 'info';
  kind: string;
  summary: string;
  site: string | null;
  server: string | null;
  count: number;
  total: number;
  firstTs: number | null;
  lastTs: number | null;
  connectionIds: number[];
}

export interface TunnelRow {
  /** Filter key "type:id". */
  key: string;
  type: string;
  id: number | null;
  outerSrc: string | null;
  outerDst: string | null;
  packets: number;
}

// ---- Charts and detail ------------------------------------------------------------------

export interface TimelineQuery {
  sessionId: string;
  buckets: number;
  filter?: ViewFilter;
}

export interface Timeline {
  start: number;
  /** Seconds per bucket. */
  step: number;
  packets: number[];
  retransmissions: number[];
  failures: number[];
}

/** Wireshark's I/O graph: counts per interval (not per second) over the capture. */
export interface IoGraphQuery {
  sessionId: string;
  /** Seconds per bin (0.001 … 3600); null picks one giving at most 500 bins. */
  interval: number | null;
  filter?: ViewFilter;
  /** Count only packets matching this display filter (as PacketQuery.displayFilter). */
  displayFilter?: string | null;
}

export interface IoGraph {
  /** Epoch seconds of the first packet: bin k starts at start + k * interval. */
  start: number;
  interval: number;
  packets: number[];
  /** Wire bytes (frame.len). */
  bytes: number[];
  /** Packets with tcp.analysis.retransmission. */
  retransmissions: number[];
  /** Set when the requested interval made too many bins and a wider one was used. */
  adjusted: string | null;
}

export interface ConnectionDetail {
  connection: ConnectionRow;
  /** The JSON the engine produced for this connection (all analyser fields). */
  raw: Record<string, unknown>;
  /** ACK RTT samples: time of the ACK, RTT seconds, direction of the data acknowledged. */
  rtt: { ts: number; rtt: number; dir: 'c2s' | 's2c' }[];
  /**
   * Per packet of a TCP connection: the sender's window (tshark's tcp.window_size, scaled)
   * and bytes in flight (tcp.analysis.bytes_in_flight; null where tshark has none).
   */
  flight: { packet: number; ts: number; dir: 'c2s' | 's2c'; window: number; inFlight: number | null }[];
  /** Stevens graph points per direction: relative sequence number of each data segment's end. */
  sequence: { ts: number; seq: number; dir: 'c2s' | 's2c'; retransmission: boolean }[];
  http: HttpRow[];
  tls: TlsRow[];
  /** A QUIC connection's packets, timeline and summary; null for other connections. */
  quic: QuicDetail | null;
  /** IDS alerts joined to this connection (openFile / capture alertsPath). */
  alerts: AlertRow[];
  /** True when the series were cut to a bounded number of points. */
  truncated: boolean;
}

/** A decoded field; offset and length (bytes from the packet's first byte) when it has a place in the bytes. */
export interface DecodedField {
  name: string;
  value: string;
  offset?: number;
  length?: number;
}

export interface DecodedPacket {
  number: number;
  ts: number;
  caplen: number;
  origLen: number;
  layers: { name: string; offset?: number; length?: number; fields: DecodedField[] }[];
  /** Hex of the captured bytes (at most 4 KiB), as a dump (offset, hex, ASCII lines). */
  hex: string;
  /** The same bytes as plain hex digits, two per byte (the bytes pane highlights field ranges in them). */
  bytesHex: string;
  flags: string[];
}

export interface FollowStreamQuery {
  sessionId: string;
  connectionId: number;
  /** Payload bytes at most (both directions together); default 1 MiB, at most 16 MiB. */
  maxBytes?: number;
  /** Follow this HTTP/2 stream (h2c, or TLS decrypted): its header blocks as lines and its DATA. */
  h2Stream?: number | null;
  /** Follow this HTTP/3 request stream (QUIC with keys): its header sections as lines and its DATA. */
  h3Stream?: number | null;
}

/** One run of payload in one direction, as text: printable ASCII kept, other bytes escaped (\xNN, \r, \n kept as line ends). */
export interface FollowChunk {
  dir: 'c2s' | 's2c';
  /** 1-based number of the packet that delivered these bytes. */
  packet: number;
  text: string;
}

export interface FollowStream {
  connectionId: number;
  transport: 'tcp' | 'udp';
  client: string;
  server: string;
  chunks: FollowChunk[];
  clientBytes: number;
  serverBytes: number;
  /** Bytes the capture lost (TCP gaps), shown as "[N bytes missing]" chunks. */
  missingBytes: number;
  /** True when maxBytes cut the stream: "first N bytes" only. */
  truncated: boolean;
  /** TLS application data decrypted with the session's keys (key log or DSB), not the records. */
  decrypted: boolean;
  /** HTTP/2 streams of the connection (ids that sent headers), for following one; [] when not HTTP/2. */
  h2Streams: number[];
  /** HTTP/3 request streams (client-initiated bidirectional) of a QUIC conversation with keys; [] otherwise. */
  h3Streams: number[];
}

// ---- Saving and export ------------------------------------------------------------------

export interface SaveRequest {
  sessionId: string;
  format: 'pcap' | 'pcapng';
  /** Save only this connection's packets. */
  connectionId?: number | null;
  /** Save only packets matching the view filter. */
  filter?: ViewFilter;
  /** Save only packets matching this display filter (as PacketQuery.displayFilter). */
  displayFilter?: string | null;
  /** Where to write; without it the service writes into its export folder for download. */
  path?: string | null;
  /**
   * Embed the TLS keys of the saved sessions (from the session's key log and the source's
   * DSBs) as a pcapng Decryption Secrets Block, as `editcap --inject-secrets` does. pcapng only.
   */
  embedKeys?: boolean;
}

export interface SaveResult {
  path: string;
  /** Set when the file waits in the export folder: fetch it by this id (browser mode). */
  downloadId: string | null;
  fileName: string;
  packets: number;
  bytes: number;
  /** saveCapture with embedKeys: TLS sessions whose keys were embedded. */
  embeddedSessions?: number;
}

export interface HarRequest {
  sessionId: string;
  filter?: ViewFilter;
  path?: string | null;
}

// ---- Live capture (issue 7 plugs in here) -------------------------------------------------

export interface InterfaceInfo {
  name: string;
  description: string | null;
  addresses: string[];
  up: boolean;
  loopback: boolean;
  /** 'bridge' | 'tap' | 'tun' | 'veth' | 'vxlan' | ... when it looks like a virtual-switch port or tunnel. */
  virtualKind: string | null;
}

export interface InterfaceList {
  available: boolean;
  /** Why capture is unavailable, or a hint (permissions). */
  message: string | null;
  interfaces: InterfaceInfo[];
}

export interface CaptureRequest {
  interface: string;
  filter?: string | null;
  /** An NSS key log (SSLKEYLOGFILE) to follow while capturing: re-read as the browser appends to it. */
  keylogPath?: string | null;
  /** A Suricata eve.json to follow while capturing; its alerts are joined at the end. */
  alertsPath?: string | null;
}

/** A cloud-TAP feed: mirrored traffic arriving over UDP. */
export interface TapFeed {
  encap: 'vxlan' | 'geneve' | 'tzsp';
  /** UDP port (VXLAN 4789, GENEVE 6081, TZSP 37008; 0 picks a free one). */
  port: number;
}

export interface ListenRequest {
  feeds: TapFeed[];
  /** Address to bind (default all IPv4 addresses). */
  address?: string | null;
  /** What the spool keeps: the datagrams as received (default) or only the inner frames. */
  save?: 'received' | 'inner';
  /** A Suricata eve.json to follow while listening; its alerts are joined at the end. */
  alertsPath?: string | null;
}

/** A capture that a crash (or kill, or power loss) left behind in the spool directory. */
export interface UnfinishedCaptureInfo {
  /** Names it for openUnfinished / discardUnfinished. */
  id: string;
  /** The interface or feed it captured from. */
  source: string;
  /** Unix seconds. */
  startedAt: number;
  files: string[];
  bytes: number;
  /** Complete packets in the files (null when too large to count quickly). */
  packets: number | null;
}

export interface CaptureStats {
  sessionId: string;
  running: boolean;
  packets: number;
  bytes: number;
  droppedKernel: number;
  droppedApp: number;
  elapsed: number;
  message: string | null;
  /**
   * A long live capture's analysis is bounded (docs/capture.md "Long captures in the app"): it
   * starts afresh after `budget` connections or packets, so the views cover the traffic since
   * `sinceMs` (epoch ms); `total` counts everything since the capture started. Null until known.
   */
  analysis?: {
    budget: { connections: number | null; packets: number | null };
    rotations: number;
    sinceMs: number;
    window: { packets: number; connections: number };
    total: { packets: number; connections: number };
  } | null;
}

// ---- The contract -----------------------------------------------------------------------

export interface TapscopeApi {
  version(): Promise<{ app: string; transport: string }>;
  openFile(req: OpenFileRequest): Promise<SessionInfo>;
  openSample(): Promise<SessionInfo>;
  cancelOpen(sessionId: string): Promise<void>;
  closeSession(sessionId: string): Promise<void>;
  summary(sessionId: string): Promise<SessionSummary>;
  recentFiles(): Promise<RecentFile[]>;

  connections(q: ConnectionQuery): Promise<Page<ConnectionRow>>;
  packets(q: PacketQuery): Promise<Page<PacketRow>>;
  http(q: TableQuery): Promise<Page<HttpRow>>;
  dns(q: TableQuery): Promise<Page<DnsRow>>;
  tls(q: TableQuery): Promise<Page<TlsRow>>;
  quic(q: TableQuery): Promise<Page<QuicRow>>;
  findings(q: TableQuery): Promise<Page<FindingRow>>;
  tunnels(sessionId: string): Promise<TunnelRow[]>;
  timeline(q: TimelineQuery): Promise<Timeline>;
  ioGraph(q: IoGraphQuery): Promise<IoGraph>;
  connectionDetail(sessionId: string, connectionId: number): Promise<ConnectionDetail>;
  decodePacket(sessionId: string, packetNumber: number): Promise<DecodedPacket>;
  /** A TCP or UDP conversation's payload as text, both directions in order (bounded). */
  followStream(q: FollowStreamQuery): Promise<FollowStream>;
  /** Compiles a display filter without running it (the filter bar's red/green as you type). */
  checkDisplayFilter(text: string): Promise<DisplayFilterCheck>;

  saveCapture(req: SaveRequest): Promise<SaveResult>;
  exportHar(req: HarRequest): Promise<SaveResult>;
  /** Native save dialog (Electron); null where there is none (browser mode downloads instead). */
  chooseSavePath(defaultName: string): Promise<string | null>;
  /** Native open dialog (Electron); null where there is none. */
  chooseOpenPath(): Promise<string | null>;

  listInterfaces(): Promise<InterfaceList>;
  validateFilter(filter: string): Promise<{ ok: boolean; message: string | null }>;
  startCapture(req: CaptureRequest): Promise<SessionInfo>;
  stopCapture(sessionId: string): Promise<void>;
  /** Cloud-TAP receiver (VXLAN / GENEVE / TZSP over UDP) as a live capture session. */
  startListen(req: ListenRequest): Promise<SessionInfo>;
  /** Captures a previous run left unfinished (offered on the start screen). */
  unfinishedCaptures(): Promise<UnfinishedCaptureInfo[]>;
  /** Opens an unfinished capture's (newest) file as a session; it is no longer offered. */
  openUnfinished(id: string): Promise<SessionInfo>;
  /** Forgets an unfinished capture and deletes its files. */
  discardUnfinished(id: string): Promise<void>;
}

export type ApiMethod = keyof TapscopeApi;

export const API_METHODS = [
  'version', 'openFile', 'openSample', 'cancelOpen', 'closeSession', 'summary', 'recentFiles',
  'connections', 'packets', 'http', 'dns', 'tls', 'quic', 'findings', 'tunnels', 'timeline', 'ioGraph', 'connectionDetail', 'decodePacket', 'followStream', 'checkDisplayFilter',
  'saveCapture', 'exportHar', 'chooseSavePath', 'chooseOpenPath',
  'listInterfaces', 'validateFilter', 'startCapture', 'stopCapture',
  'startListen', 'unfinishedCaptures', 'openUnfinished', 'discardUnfinished',
] as const satisfies readonly ApiMethod[];

// Compile-time check that the list names every method exactly.
type Missing = Exclude<ApiMethod, (typeof API_METHODS)[number]>;
const _allListed: Missing extends never ? true : Missing = true;
void _allListed;

/** Events the main side pushes to the renderer. */
export interface TapscopeEvents {
  /** A session's reading progress; sent a few times per second at most. */
  progress: Progress;
  /** Live capture counters. */
  capture: CaptureStats;
  /** The OS asked to open a file (Electron open-file, second instance, serve's file arguments). */
  opened: SessionInfo;
}

export type EventName = keyof TapscopeEvents;
export const API_EVENTS = ['progress', 'capture', 'opened'] as const satisfies readonly EventName[];

/** What the renderer sees: the methods, plus a subscription that returns its unsubscribe. */
export interface TapscopeClient extends TapscopeApi {
  on<E extends EventName>(event: E, cb: (data: TapscopeEvents[E]) => void): () => void;
  /** 'electron' or 'browser'. */
  readonly transport: string;
  /** Browser mode: URL that downloads a saved file; null in Electron (files are saved in place). */
  downloadUrl(downloadId: string): string | null;
}

/** Errors cross transports as { name, message }; the client re-throws them as ApiError. */
export class ApiError extends Error {
  constructor(message: string, readonly code: string = 'error') {
    super(message);
    this.name = 'ApiError';
  }
}
