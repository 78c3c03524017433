/**
 * Per-packet facts kept for the whole capture in compact typed arrays (about 26 bytes a
 * packet): where the packet is in the file, when, which connection, which analysis flags.
 * The detail views re-read and re-decode single packets from their file offset.
 */
export class PacketIndex {
  length = 0;
  fileOffset = new Float64Array(1024);
  ts = new Float64Array(1024);
  connId = new Int32Array(1024);
  flags = new Uint32Array(1024);
  wireLen = new Uint32Array(1024);
  /** 1 when client->server, 2 when server->client, 0 when no connection. */
  dir = new Uint8Array(1024);

  push(fileOffset: number, ts: number, connId: number, flags: number, wireLen: number, dir: number): number {
    if (this.length === this.ts.length) this.grow();
    const i = this.length++;
    this.fileOffset[i] = fileOffset;
    this.ts[i] = ts;
    this.connId[i] = connId;
    this.flags[i] = flags;
    this.wireLen[i] = wireLen;
    this.dir[i] = dir;
    return i;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const g = <T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(a: T, ctor: new (n: number) => T): T => {
      const b = new ctor(n);
      b.set(a);
      return b;
    };
    this.fileOffset = g(this.fileOffset, Float64Array);
    this.ts = g(this.ts, Float64Array);
    this.connId = g(this.connId, Int32Array);
    this.flags = g(this.flags, Uint32Array);
    this.wireLen = g(this.wireLen, Uint32Array);
    this.dir = g(this.dir, Uint8Array);
  }
}
