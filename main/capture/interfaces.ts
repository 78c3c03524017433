/*
 * Interfaces that can be captured: libpcap's list (via `cap`), with what Linux sysfs says
 * about each, so a user can find "the port of that VM": bridges and their ports, tap/tun
 * devices (VM and container NICs), veth pairs, VXLAN/GENEVE devices, Open vSwitch ports.
 *
 * Classification (/sys/class/net/<if>/):
 *   bridge/           -> a Linux bridge (brif/ lists its ports)
 *   brport/, master   -> a bridge port (master names the bridge or ovs-system)
 *   tun_flags         -> IFF_TAP (0x0002) tap, IFF_TUN (0x0001) tun
 *   uevent DEVTYPE=   -> vxlan, geneve, bridge, openvswitch, vlan, wlan ...
 *   no device/ link   -> virtual; `ethtool -i` names the driver (veth, ...)
 *   type              -> ARPHRD_* (1 Ethernet, 772 loopback, 65534 none = raw IP)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, linkTypeName } from '../pcap/link-types.js';

export type VirtualRole = 'bridge' | 'bridge-port' | 'tap' | 'tun' | 'veth' | 'vxlan' | 'geneve' | 'ovs' | 'vlan' | 'other-virtual';

export interface InterfaceAddress {
  addr: string;
  netmask: string | null;
}

export interface CaptureDevice {
  name: string;
  description: string | null;
  addresses: InterfaceAddress[];
  loopback: boolean;
  up: boolean;
  running: boolean;
  /** Link type libpcap will most likely report (LINKTYPE_*), null when unknown (pseudo-devices). */
  linkType: number | null;
  linkTypeName: string | null;
  /** Kernel driver (ethtool -i), when known. */
  driver: string | null;
  /** Set for virtual-switch plumbing: bridges, their ports, tap/tun, veth, VXLAN/GENEVE, OVS. */
  virtual: VirtualRole[];
  /** The bridge (or ovs-system) this interface is a port of. */
  master: string | null;
  /** For a bridge: its ports. */
  ports: string[];
  /** Short text for a picker: "veth, port of br0". */
  summary: string;
}

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_RUNNING = 0x40;
const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const ARPHRD_NONE = 65534;

interface CapDevice {
  name: string;
  description?: string;
  addresses?: { addr: string; netmask?: string }[];
  flags?: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function ethtoolDriver(name: string): string | null {
  try {
    const out = execFileSync('ethtool', ['-i', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    const m = /^driver:\s*(\S+)/m.exec(out);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/** What sysfs says about one interface (Linux); everything null/empty elsewhere. */
export function classify(name: string, sysRoot = '/sys/class/net'): Pick<CaptureDevice, 'virtual' | 'master' | 'ports' | 'driver' | 'up' | 'running' | 'loopback' | 'linkType'> & { present: boolean } {
  const dir = `${sysRoot}/${name}`;
  const res = { virtual: [] as VirtualRole[], master: null as string | null, ports: [] as string[], driver: null as string | null, up: false, running: false, loopback: false, linkType: null as number | null, present: false };
  if (!name || name.includes('/') || !existsSync(dir)) return res;
  res.present = true;
  const flags = parseInt(read(`${dir}/flags`) ?? '0', 16);
  res.up = (flags & IFF_UP) !== 0;
  res.running = (flags & IFF_RUNNING) !== 0;
  res.loopback = (flags & IFF_LOOPBACK) !== 0;
  const type = Number(read(`${dir}/type`) ?? NaN);
  if (type === ARPHRD_ETHER || type === ARPHRD_LOOPBACK) res.linkType = LINKTYPE_ETHERNET;
  else if (type === ARPHRD_NONE) res.linkType = LINKTYPE_RAW;
  const devtype = /^DEVTYPE=(\S+)/m.exec(read(`${dir}/uevent`) ?? '')?.[1] ?? null;
  if (existsSync(`${dir}/bridge`)) {
    res.virtual.push('bridge');
    try {
      res.ports = readdirSync(`${dir}/brif`).sort();
    } catch {
      // no ports
    }
  }
  if (existsSync(`${dir}/master`)) {
    try {
      res.master = basename(readlinkSync(`${dir}/master`));
    } catch {
      res.master = null;
    }
    if (existsSync(`${dir}/brport`)) res.virtual.push('bridge-port');
    else if (res.master === 'ovs-system') res.virtual.push('ovs');
  }
  const tunFlags = read(`${dir}/tun_flags`);
  if (tunFlags !== null) res.virtual.push((parseInt(tunFlags, 16) & IFF_TAP) ? 'tap' : (parseInt(tunFlags, 16) & IFF_TUN) ? 'tun' : 'other-virtual');
  if (devtype === 'vxlan') res.virtual.push('vxlan');
  else if (devtype === 'geneve') res.virtual.push('geneve');
  else if (devtype === 'openvswitch' && !res.virtual.includes('ovs')) res.virtual.push('ovs');
  else if (devtype === 'vlan') res.virtual.push('vlan');
  const physical = existsSync(`${dir}/device`);
  if (!physical && !res.loopback) {
    res.driver = ethtoolDriver(name);
    if (res.driver === 'veth') res.virtual.push('veth');
    else if (res.driver === 'openvswitch' && !res.virtual.includes('ovs')) res.virtual.push('ovs');
    else if (res.virtual.length === 0) {
      // veth without ethtool: a virtual device linked to another one (iflink != ifindex).
      const iflink = read(`${dir}/iflink`);
      if (!res.driver && iflink !== null && iflink !== read(`${dir}/ifindex`) && devtype === null) res.virtual.push('veth');
      else res.virtual.push('other-virtual');
    }
  } else if (physical) {
    res.driver = ethtoolDriver(name);
  }
  return res;
}

function summarize(d: Omit<CaptureDevice, 'summary'>): string {
  const parts: string[] = [];
  if (d.loopback) parts.push('loopback');
  for (const v of d.virtual) {
    if (v === 'bridge') parts.push(`bridge${d.ports.length ? ` (ports: ${d.ports.join(', ')})` : ''}`);
    else if (v === 'bridge-port' || v === 'ovs') parts.push(`port of ${d.master}`);
    else if (v !== 'other-virtual') parts.push(v);
  }
  if (d.virtual.includes('other-virtual') && parts.length === 0) parts.push(d.driver ?? 'virtual');
  if (!d.up && d.linkType !== null) parts.push('down');
  if (d.description) parts.push(d.description);
  const v4 = d.addresses.filter((a) => !a.addr.includes(':')).map((a) => a.addr);
  if (v4.length) parts.push(v4.join(', '));
  return parts.join('; ');
}

/** Every interface libpcap can capture on, with its virtual-switch role. */
export function listInterfaces(): CaptureDevice[] {
  let devs: CapDevice[];
  try {
    const req = createRequire(import.meta.url);
    devs = (req('cap') as { Cap: { deviceList(): CapDevice[] } }).Cap.deviceList();
  } catch {
    // cap missing: fall back to sysfs (Linux) so the list is never empty for no reason.
    devs = existsSync('/sys/class/net') ? readdirSync('/sys/class/net').map((name) => ({ name })) : [];
  }
  const out: CaptureDevice[] = [];
  for (const d of devs) {
    const c = classify(d.name);
    const loopback = c.loopback || (d.flags ?? '').includes('PCAP_IF_LOOPBACK');
    const base = {
      name: d.name,
      description: d.description ?? null,
      addresses: (d.addresses ?? []).map((a) => ({ addr: a.addr, netmask: a.netmask ?? null })),
      loopback,
      up: c.present ? c.up : true,
      running: c.present ? c.running : true,
      linkType: c.linkType,
      linkTypeName: c.linkType === null ? null : linkTypeName(c.linkType),
      driver: c.driver,
      virtual: c.virtual,
      master: c.master,
      ports: c.ports,
    };
    out.push({ ...base, summary: summarize(base) });
  }
  return out;
}
