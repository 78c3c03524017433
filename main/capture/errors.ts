/*
 * Capture failures as the user should read them: what happened, in words, and for missing
 * privileges the remedy for their operating system.
 */
export type CaptureErrorCode =
  | 'EPERM' // no permission to capture
  | 'ENODEV' // no such interface
  | 'EFILTER' // the BPF filter does not compile
  | 'EIFACE' // the interface failed or disappeared during the capture
  | 'ENETDOWN' // the interface is down
  | 'ENOSPC' // disk full while spooling
  | 'EHELPER' // the helper could not be started or died
  | 'EPCAP' // any other libpcap error
  | string;

export class CaptureError extends Error {
  constructor(readonly code: CaptureErrorCode, message: string, readonly remedy: string | null = null) {
    super(remedy ? `${message}\n${remedy}` : message);
    this.name = 'CaptureError';
  }
  /** The message without the remedy. */
  get summary(): string {
    return this.remedy ? this.message.slice(0, this.message.length - this.remedy.length - 1) : this.message;
  }
}

/**
 * What holds the capture privileges: the capture program (its built copy, to install), or
 * without one a Node.js runtime that runs the JavaScript helper (null: `command -v node`).
 */
export type CaptureTarget = { kind: 'program'; source: string } | { kind: 'runtime'; source: string | null };

/** Where the remedy installs the capture program (service.ts looks there). */
export const INSTALLED_PROGRAM = '/usr/local/lib/tapscope/tapscope-capture';

/** What to do when the capture may not open interfaces, for this OS. */
export function permissionRemedy(target: CaptureTarget, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') {
    if (target.kind === 'program') {
      // CAP_NET_RAW alone opens a packet socket and sets promiscuous mode (PACKET_MR_PROMISC);
      // the program gives it up as soon as the interface is open (docs/security.md).
      const installed = target.source === INSTALLED_PROGRAM;
      return [
        'Capturing needs the CAP_NET_RAW capability (or root). Like Wireshark\'s dumpcap, give it to Tapscope\'s',
        'capture program only (it opens one interface and writes packets to Tapscope; it runs nothing else),',
        'installed so that only members of a "pcap" group may run it; Tapscope then uses it by itself:',
        '    sudo groupadd -f pcap && sudo usermod -aG pcap $USER      (then log in again)',
        ...(installed ? [] : [`    sudo install -D -m 0750 -g pcap ${target.source} ${INSTALLED_PROGRAM}`]),
        `    sudo setcap cap_net_raw=ep ${INSTALLED_PROGRAM}`,
        'Or run the capture as root (sudo tapscope capture ...).',
        'Receiving cloud-TAP feeds (VXLAN/GENEVE/TZSP over UDP) needs no privileges: tapscope listen.',
      ].join('\n');
    }
    const dedicated = '/usr/local/lib/tapscope/capture-node';
    // Without the capture program (not built: no C compiler or libpcap headers) the helper is
    // JavaScript, so a Node.js runtime (>= 20) has to hold the capability: any script it runs
    // can capture. Building the program (npm run build) is the better remedy.
    const helperExec = target.source ?? '"$(command -v node)"';
    return [
      'Capturing needs the CAP_NET_RAW capability (or root). The capture program tapscope-capture was not built',
      '(npm run build needs a C compiler and the libpcap headers); it is the only file that should hold that capability.',
      'Without it, give the capability to a dedicated copy of a Node.js runtime that only members of a "pcap" group may run:',
      `    sudo groupadd -f pcap && sudo usermod -aG pcap $USER      (then log in again)`,
      `    sudo install -D -m 0750 -g pcap ${helperExec} ${dedicated}`,
      `    sudo setcap cap_net_raw=ep ${dedicated}`,
      `    export TAPSCOPE_CAPTURE_EXEC=${dedicated}`,
      'Or run the capture as root (sudo tapscope capture ...).',
      'Receiving cloud-TAP feeds (VXLAN/GENEVE/TZSP over UDP) needs no privileges: tapscope listen.',
    ].join('\n');
  }
  if (platform === 'darwin') {
    return [
      'Capturing needs read access to the /dev/bpf* devices. Either:',
      "  - install Wireshark's ChmodBPF helper (it gives the access_bpf group access at boot) and add yourself to access_bpf:",
      '      sudo dseditgroup -o edit -a $USER -t user access_bpf',
      '  - or for this boot only: sudo chgrp admin /dev/bpf* && sudo chmod g+rw /dev/bpf*',
    ].join('\n');
  }
  if (platform === 'win32') {
    return [
      'Capturing needs Npcap (https://npcap.com), installed with "WinPcap API-compatible mode".',
      'If Npcap was installed with "Restrict Npcap driver\'s access to Administrators only", run Tapscope as administrator',
      'or reinstall Npcap without that option.',
    ].join('\n');
  }
  return 'Capturing needs the privileges libpcap requires on this system (usually root).';
}

/** The helper's error (code + libpcap text) as a CaptureError. */
export function captureErrorFrom(code: string, message: string, device: string, target: CaptureTarget): CaptureError {
  switch (code) {
    case 'EPERM':
      return new CaptureError('EPERM', `no permission to capture on ${device}: ${message}`, permissionRemedy(target));
    case 'ENODEV':
      return new CaptureError('ENODEV', `there is no interface "${device}" to capture on (${message}); run \`tapscope interfaces\` to list them`);
    case 'EFILTER':
      return new CaptureError('EFILTER', `bad capture filter: ${message}`);
    case 'EIFACE':
      return new CaptureError('EIFACE', `the capture on ${device} stopped: ${message}`);
    case 'ENETDOWN':
      return new CaptureError('ENETDOWN', `${device} is down (${message}); bring it up (ip link set ${device} up) and try again`);
    default:
      return new CaptureError(code || 'EPCAP', `capture on ${device} failed: ${message}`);
  }
}
