import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tshark } from '../helpers/captures.js';

/** Whether a command exists on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A flow as nfdump reads it back, or as the oracle computes it: one direction. */
export interface Uniflow {
  key: string;
  packets: number;
  octets: number;
  firstMs: number;
  lastMs: number;
}

/** Direction key: protocol, source, destination. */
export const flowKey = (proto: number, src: string, sport: number, dst: string, dport: number) => `${proto} ${src}:${sport} > ${dst}:${dport}`;

/** Merges flows with the same key (a reused 5-tuple is several connections). */
export function byKey(flows: Uniflow[]): Map<string, Uniflow> {
  const m = new Map<string, Uniflow>();
  for (const f of flows) {
    const g = m.get(f.key);
    if (!g) m.set(f.key, { ...f });
    else {
      g.packets += f.packets;
      g.octets += f.octets;
      g.firstMs = Math.min(g.firstMs, f.firstMs);
      g.lastMs = Math.max(g.lastMs, f.lastMs);
    }
  }
  return m;
}

/** nfcapd receiving on 127.0.0.1:port into a fresh directory (RFC 7011 collector). */
export class Nfcapd {
  readonly dir = mkdtempSync(join(tmpdir(), 'tapscope-nfcapd-'));
  private proc: ChildProcess | null = null;
  private log = '';

  /** The UDP port it listens on (a random one; another is tried when it is taken). */
  port = 0;

  /** Starts it on a free port and waits (up to 5 s) until it has opened its socket. */
  async start(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = 30000 + Math.floor(Math.random() * 20000);
      this.log = '';
      // -B: a 4 MiB socket buffer (the default net.core.rmem_max here), as a collector taking a
      // live sensor's export is set up; with the default 208 KiB, a collector starved of CPU
      // on a loaded machine drops datagrams in its kernel socket.
      const p = spawn('nfcapd', ['-w', this.dir, '-p', String(this.port), '-b', '127.0.0.1', '-t', '3600', '-B', String(4 << 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = p;
      p.stdout!.on('data', (d) => (this.log += d));
      p.stderr!.on('data', (d) => (this.log += d));
      for (let i = 0; i < 50 && p.exitCode === null && !this.log.includes('Startup'); i++) await new Promise((r) => setTimeout(r, 100));
      if (this.log.includes('Startup') && p.exitCode === null) return;
      p.kill('SIGKILL'); // could not bind (port taken) or did not start: try another port
    }
    throw new Error(`nfcapd did not start: ${this.log}`);
  }

  /** SIGTERM (it renames nfcapd.current to its final name), then nfdump -R reads everything. */
  async stop(): Promise<Record<string, unknown>[]> {
    await this.terminate();
    return this.read();
  }

  /** SIGTERM and wait for it to exit; its summary (flows, packets, bytes, sequence errors) is then in `output`. */
  async terminate(): Promise<void> {
    const p = this.proc!;
    await new Promise((r) => setTimeout(r, 300)); // datagrams in flight on loopback
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  /** The records received (after terminate), optionally only those an nfdump filter selects. */
  read(filter?: string): Record<string, unknown>[] {
    const out = execFileSync('nfdump', ['-R', this.dir, '-o', 'json', '-N', '-6', ...(filter ? [filter] : [])], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 28 });
    return out.trim() === '' ? [] : (JSON.parse(out) as Record<string, unknown>[]);
  }

  /** nfcapd's own totals from its exit summary (after terminate). */
  summary(): { flows: number; packets: number; bytes: number; sequenceErrors: number; badPackets: number } | null {
    const m = /Flows: (\d+), Packets: (\d+), Bytes: (\d+), Sequence Errors: (\d+), Bad Packets: (\d+)/.exec(this.log);
    return m ? { flows: +m[1], packets: +m[2], bytes: +m[3], sequenceErrors: +m[4], badPackets: +m[5] } : null;
  }

  /** What nfcapd said (its summary line names sequence errors). */
  get output(): string {
    return this.log;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** nfdump JSON records as uniflows (first/last are UTC wall times with ms, TZ=UTC). */
export function nfdumpFlows(recs: Record<string, unknown>[]): Uniflow[] {
  return recs.map((r) => ({
    key: flowKey(r.proto as number, (r.src4_addr ?? r.src6_addr) as string, r.src_port as number, (r.dst4_addr ?? r.dst6_addr) as string, r.dst_port as number),
    packets: r.in_packets as number,
    octets: r.in_bytes as number,
    firstMs: Date.parse(`${r.first as string}Z`),
    lastMs: Date.parse(`${r.last as string}Z`),
  }));
}

/** Epoch ms (truncated) of tshark's frame.time_epoch text, exactly (no float). */
function epochMs(t: string): number {
  const [s, frac = ''] = t.split('.');
  return Number(s) * 1000 + Number((frac + '000').slice(0, 3));
}

/**
 * The oracle: tshark's per-packet fields summed per direction of every TCP/UDP flow of
 * the innermost IP layer (last occurrence of each field). IP octets: ip.len, or
 * ipv6.plen + 40. ICMP packets (which quote a header) and non-first fragments are left
 * out, as flow meters do.
 */
export function tsharkUniflows(file: string, extra: string[] = []): Uniflow[] {
  const fields = ['frame.time_epoch', 'ip.proto', 'ipv6.nxt', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.len', 'ipv6.plen', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'frame.protocols'];
  const out = tshark(['-r', file, '-n', ...extra, '-Y', '(tcp or udp) and not icmp and not icmpv6 and not (ip.frag_offset > 0)',
    '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=l', ...fields.flatMap((f) => ['-e', f])]);
  const rows = out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
  const flows: Uniflow[] = [];
  for (const r of rows) {
    const protos = r[13].split(':');
    const lastIp = protos.lastIndexOf('ip') > protos.lastIndexOf('ipv6') ? 4 : 6;
    const lastL4 = protos.lastIndexOf('tcp') > protos.lastIndexOf('udp') ? 6 : 17;
    const [src, dst] = lastIp === 4 ? [r[3], r[4]] : [r[5], r[6]];
    const octets = lastIp === 4 ? Number(r[7]) : Number(r[8]) + 40;
    const [sp, dp] = lastL4 === 6 ? [r[9], r[10]] : [r[11], r[12]];
    const ms = epochMs(r[0]);
    flows.push({ key: flowKey(lastL4, src, Number(sp), dst, Number(dp)), packets: 1, octets, firstMs: ms, lastMs: ms });
  }
  return flows;
}
