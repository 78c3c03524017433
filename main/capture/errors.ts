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

/** What to do when the helper may not open interfaces, for this OS. */
export function permissionRemedy(helperExec: string | null, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') {
    const dedicated = '/usr/local/lib/tapscope/capture-node';
    // The desktop app's own binary is Electron, which cannot be copied alone: the helper is
    // plain JavaScript, so a Node.js runtime (>= 20) serves.
    if (helperExec === null) helperExec = '"$(command -v node)"';
    return [
      'Capturing needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities (or root). Like Wireshark\'s dumpcap, give them',
      'to a dedicated copy of the runtime that only members of a "pcap" group may run, and let Tapscope use it for its helper:',
      `    sudo groupadd -f pcap && sudo usermod -aG pcap $USER      (then log in again)`,
      `    sudo install -D -m 0750 -g pcap ${helperExec} ${dedicated}`,
      `    sudo setcap cap_net_raw,cap_net_admin=eip ${dedicated}`,
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
export function captureErrorFrom(code: string, message: string, device: string, helperExec: string | null): CaptureError {
  switch (code) {
    case 'EPERM':
      return new CaptureError('EPERM', `no permission to capture on ${device}: ${message}`, permissionRemedy(helperExec));
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
