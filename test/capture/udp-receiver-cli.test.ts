// `tapscope listen` reports its receive path: which one runs, the socket buffer the kernel
// granted, and every count (drops, datagrams cut at -s, datagrams that are not the tunnel) in
// the summary and in --json; bad receive-path options are usage errors.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runListenCli } from '../../main/cli/capture.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
// @ts-expect-error: plain JavaScript build script
import { buildReceiveBinary, RECEIVE_BINARY } from '../../scripts/build-tapcap.mjs';
import { sendAsync } from './udp-burst.js';

const hasProgram = !skipUnlessRequired('listen CLI on the receive program', process.platform !== 'linux' ? 'Linux only'
  : existsSync(RECEIVE_BINARY) || buildReceiveBinary() ? null : 'out/native/tapscope-receive could not be built');
const dir = mkdtempSync(join(tmpdir(), 'tsEudpc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sinkStream(onWrite: (all: string) => void = () => {}): Writable & { text: () => string } {
  let text = '';
  const w = new Writable({ write(chunk, _enc, cb) { text += String(chunk); onWrite(text); cb(); } }) as Writable & { text: () => string };
  w.text = () => text;
  return w;
}

describe.skipIf(!hasProgram)('tapscope listen: receive path reports', () => {
  it('names the receive path and socket buffer, and counts cut and non-tunnel datagrams', async () => {
    let sending: Promise<void> | null = null;
    const err = sinkStream((all) => {
      const port = /listening for vxlan on udp\/(\d+)/.exec(all)?.[1];
      if (port && !sending) sending = sendAsync(Number(port), { count: 300, size: 64, bad: 6, big: 10, bigSize: 3000 });
    });
    const out = sinkStream();
    // -B 1: 1 MiB asked, which the kernel reports doubled; -c 300 ends it after the burst.
    const status = await runListenCli(['--vxlan', '0', '--address', '127.0.0.1', '-w', join(dir, 'cli.pcapng'), '-c', '300', '-s', '1000', '-B', '1', '--queue', '2', '--json'], { out, err });
    await sending;
    expect(status).toBe(0);
    const e = err.text();
    expect(e).toMatch(/^tapscope: receive program tapscope-receive \(recvmmsg batches\), socket buffer 2 MiB \(forced past net\.core\.rmem_max\)$/m);
    expect(e).toMatch(/^300 packets captured/m);
    expect(e).toMatch(/^0 packets dropped by kernel$/m);
    expect(e).toMatch(/^0 packets dropped by app$/m);
    expect(e).toMatch(/^30 datagrams cut at the snap length, 50 datagrams without the tunnel's inner frame \(tapscope-receive\)$/m);
    const capture = JSON.parse(out.text()).capture;
    expect(capture).toMatchObject({ backend: 'tapscope-receive', receiveBuffer: 2 << 20, truncated: 30, notTunnel: 50 });
    expect(capture.counters).toMatchObject({ packets: 300, received: 300, droppedByKernel: 0, droppedByApp: 0 });
  });

  it('refuses bad receive-path options before listening', async () => {
    const io = { out: sinkStream(), err: sinkStream() };
    await expect(runListenCli(['--vxlan', '0', '-s', '10'], io)).rejects.toThrow(/bad -s "10"/);
    await expect(runListenCli(['--vxlan', '0', '--queue', '0.5'], io)).rejects.toThrow(/bad --queue "0.5"/);
    await expect(runListenCli(['--vxlan', '0', '-B', 'lots'], io)).rejects.toThrow(/bad -B "lots"/);
  });
});
