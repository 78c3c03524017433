// A real kernel VXLAN TAP: tc mirrors a veth port (ingress and egress, u32 match-all) into a
// VXLAN device whose remote is a collector namespace where `tapscope listen` receives it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tsharkFields } from '../helpers/captures.js';
import { CLI, Lab, ensureBuilt, sh, skipReason, stopChild, tsharkCount, waitFor } from './lab.js';

const skip = skipReason();
const PORT = 8080;
const VNI = 4242;

interface ListenJson {
  capture: { reason: string; error: unknown; counters: { packets: number; savedPackets: number; droppedByKernel: number | null }; notTunnel: number };
  tunnels: { type: string; id: number | null; outerSrc: string | null; packets: number }[];
  connections: { transport: string; server: { ip: string; port: number }; tunnel: { type: string; id: number | null }[]; packets: number }[];
}

describe.skipIf(skip !== null)(`kernel VXLAN TAP into tapscope listen${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const lab = new Lab(2);
  const col = 'tsE2c';
  const tapSrc = '10.232.2.1';
  const colIp = '10.232.2.2';
  beforeAll(async () => {
    await ensureBuilt();
    lab.up();
    sh(`ip netns del ${col}`, { ignoreError: true });
    sh(`ip netns add ${col}`);
    sh(`ip link add tsE2xb netns ${lab.b} type veth peer name tsE2xc netns ${col}`);
    sh(`ip -n ${lab.b} addr add ${tapSrc}/24 dev tsE2xb && ip -n ${lab.b} link set tsE2xb up`);
    // The collector's NIC is a port of a Linux bridge that holds its address (a VM host).
    sh(`ip -n ${col} link add tsE2br type bridge && ip -n ${col} link set tsE2xc master tsE2br`);
    sh(`ip -n ${col} addr add ${colIp}/24 dev tsE2br && ip -n ${col} link set tsE2br up && ip -n ${col} link set tsE2xc up && ip -n ${col} link set lo up`);
    // A jumbo underlay, as VXLAN deployments have: full-size inner frames are not fragmented
    // (the UDP socket would get them reassembled, a capture of the underlay would not).
    for (const [ns, dev] of [[lab.b, 'tsE2xb'], [col, 'tsE2xc'], [col, 'tsE2br']]) sh(`ip -n ${ns} link set ${dev} mtu 9000`);
    // The TAP: VNI 4242 to the collector, fed by mirred from both directions of the port.
    sh(`ip -n ${lab.b} link add tsE2vx type vxlan id ${VNI} remote ${colIp} local ${tapSrc} dstport 4789 dev tsE2xb`);
    sh(`ip -n ${lab.b} link set tsE2vx up`);
    const tc = (args: string) => sh(`ip netns exec ${lab.b} tc ${args}`);
    // clsact gives both hooks (the prio qdisc is not built into every kernel).
    tc(`qdisc add dev ${lab.vb} clsact`);
    tc(`filter add dev ${lab.vb} ingress protocol all u32 match u32 0 0 action mirred egress mirror dev tsE2vx`);
    tc(`filter add dev ${lab.vb} egress protocol all u32 match u32 0 0 action mirred egress mirror dev tsE2vx`);
    lab.httpServer(PORT, { 'page.html': 20_000 });
  });
  afterAll(() => {
    sh(`ip netns del ${col}`, { ignoreError: true });
    lab.cleanup();
  });

  async function listen(extra: string[], fetches: number): Promise<{ json: ListenJson; file: string; stderr: string; code: number | null }> {
    const file = join(lab.dir, `listen${extra.join('')}.pcapng`);
    const p = lab.spawn(col, [process.execPath, CLI, 'listen', '--vxlan', '4789', '-w', file, '--json', ...extra]);
    await waitFor(p.stderr!, /listening for vxlan on udp\/4789/);
    expect(lab.fetch(PORT, 'page.html', fetches)).toBe(fetches);
    await new Promise((r) => setTimeout(r, 500));
    const end = await stopChild(p, 'SIGINT');
    return { json: JSON.parse(end.stdout) as ListenJson, file, stderr: end.stderr, code: end.code };
  }

  it('shows the inner HTTP connections with VNI 4242 and the TAP as outer source; saves what tshark reads as VXLAN', async () => {
    const n = 4;
    const { json, file, stderr, code } = await listen([], n);
    expect(code).toBe(0);
    expect(stderr).toMatch(/packets captured/);
    expect(stderr).toMatch(/packets dropped by kernel/);
    expect(stderr).toMatch(/packets dropped by app/);
    expect(json.capture.error).toBeNull();
    const vx = json.tunnels.filter((t) => t.type === 'vxlan');
    expect(vx.map((t) => [t.id, t.outerSrc])).toContainEqual([VNI, tapSrc]);
    const http = json.connections.filter((c) => c.transport === 'tcp' && c.server.port === PORT);
    expect(http.length).toBe(n);
    for (const c of http) {
      expect(c.server.ip).toBe(lab.ipB);
      expect(c.tunnel).toContainEqual({ type: 'vxlan', id: VNI });
    }
    // tshark on the saved file (one run) sees the same VXLAN packets and inner conversations.
    const rows = tsharkFields(file, ['vxlan.vni', 'ip.src', 'tcp.stream', 'http.request', 'tcp.port']);
    expect(rows.length).toBe(json.capture.counters.savedPackets);
    expect(rows.every((r) => r[0] === String(VNI) && r[1].split(',')[0] === tapSrc)).toBe(true);
    const web = rows.filter((r) => r[4].split(',').includes(String(PORT)));
    expect(new Set(web.map((r) => r[2])).size).toBe(n);
    expect(rows.filter((r) => r[3] !== '').length).toBe(n);
  });

  it('capturing on the bridge the feed arrives on unwraps the VXLAN like any capture', async () => {
    const n = 2;
    const file = join(lab.dir, 'bridge.pcapng');
    const capP = lab.spawn(col, [process.execPath, CLI, 'capture', '-i', 'tsE2br', '-f', 'udp port 4789', '-w', file, '--json']);
    await waitFor(capP.stderr!, /capturing on tsE2br/);
    const listened = await listen([], n); // something receives the feed, as in production
    const end = await stopChild(capP, 'SIGINT');
    expect(end.code).toBe(0);
    const json = JSON.parse(end.stdout) as ListenJson & { capture: { backend: string } };
    // The real outer headers this time: TAP source -> collector.
    const vx = json.tunnels.filter((t) => t.type === 'vxlan');
    expect(vx.map((t) => [t.id, t.outerSrc, (t as { outerDst?: string }).outerDst])).toContainEqual([VNI, tapSrc, colIp]);
    const http = json.connections.filter((c) => c.transport === 'tcp' && c.server.port === PORT);
    expect(http.length).toBe(n);
    for (const c of http) expect(c.tunnel).toContainEqual({ type: 'vxlan', id: VNI });
    // Same inner conversations as the receiver saw.
    const key = (j: ListenJson) => j.connections.filter((c) => c.transport === 'tcp').map((c) => `${c.server.ip}:${c.server.port}/${c.packets}`).sort();
    expect(key(json)).toEqual(key(listened.json));
    expect(tsharkCount(file)).toBe(json.capture.counters.savedPackets);
  });

  it('with --inner saves the inner frames only, still analysed with the VNI', async () => {
    const n = 3;
    const { json, file, code } = await listen(['--inner'], n);
    expect(code).toBe(0);
    const http = json.connections.filter((c) => c.transport === 'tcp' && c.server.port === PORT);
    expect(http.length).toBe(n);
    for (const c of http) expect(c.tunnel).toContainEqual({ type: 'vxlan', id: VNI });
    expect(json.capture.notTunnel).toBe(0);
    const rows = tsharkFields(file, ['frame.protocols', 'http.request', 'tcp.port']);
    expect(rows.length).toBe(json.capture.counters.savedPackets);
    expect(rows.filter((r) => /vxlan/.test(r[0]))).toEqual([]);
    expect(rows.filter((r) => r[1] !== '').length).toBe(n);
    // Every inner packet of the web connections is in the file.
    expect(rows.filter((r) => r[2].split(',').includes(String(PORT))).length).toBe(http.reduce((sum, c) => sum + c.packets, 0));
  });
});
