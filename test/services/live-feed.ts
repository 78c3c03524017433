// Shared by the live API tests (Vitest) and the browser tests (Playwright): a real cloud-TAP
// feed replayed from a corpus capture, and a real unfinished capture left by a killed collector.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { capture, tsharkFields, REPO_ROOT } from '../helpers/captures';

export const FEED_FILE = 'vxlan-http.pcap';
export const CLI_BIN = join(REPO_ROOT, 'out', 'cli', 'tapscope.mjs');

/** The VXLAN datagrams (UDP payloads to port 4789) of a corpus capture, as tshark reads them. */
export function vxlanPayloads(file = FEED_FILE): Buffer[] {
  const rows = tsharkFields(capture(file), ['udp.payload'], ['-Y', 'udp.dstport == 4789']);
  return rows.map((r) => Buffer.from((r[0].split(',').pop() ?? '').replace(/:/g, ''), 'hex'));
}

/** Sends the datagrams to 127.0.0.1:port, one after another. */
export async function replay(payloads: Buffer[], port: number): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (const p of payloads) await new Promise<void>((res, rej) => s.send(p, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  } finally {
    s.close();
  }
}

/**
 * Leaves an unfinished capture in spoolDir the way a crash does: `tapscope listen --inner`
 * receives the feed, and is killed with SIGKILL once its progress line says every packet is
 * flushed to the spool. Resolves with the spool file and the packets flushed before the kill.
 */
export async function leaveUnfinishedCapture(spoolDir: string, payloads: Buffer[]): Promise<{ file: string; flushed: number }> {
  const p = spawn(process.execPath, [CLI_BIN, 'listen', '--vxlan', '0', '--address', '127.0.0.1', '--inner', '--progress'], {
    env: { ...process.env, TAPSCOPE_SPOOL_DIR: spoolDir }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const seen = (re: RegExp, ms: number): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = err.match(re);
      if (m) {
        clearTimeout(t);
        p.stderr!.off('data', onData);
        resolve(m);
      }
      return !!m;
    };
    const onData = (d: Buffer): void => {
      err += d;
      check();
    };
    const t = setTimeout(() => {
      p.stderr!.off('data', onData);
      reject(new Error(`tapscope listen did not print ${re} within ${ms} ms: ${err}`));
    }, ms);
    p.stderr!.on('data', onData);
    check();
  });
  try {
    const m = await seen(/listening for vxlan on udp\/(\d+).* to (\S+)\n/, 15_000);
    await replay(payloads, Number(m[1]));
    const f = await seen(new RegExp(`progress: ${payloads.length} captured, ${payloads.length} saved, ${payloads.length} flushed`), 15_000);
    void f;
    return { file: m[2], flushed: payloads.length };
  } finally {
    p.kill('SIGKILL');
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('close', r)));
  }
}
