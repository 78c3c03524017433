// Which process captures (the capture program or the JavaScript helper) and the permission
// remedy each one gets. Plain functions: no privileges, no interfaces.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { permissionRemedy, INSTALLED_PROGRAM } from '../../main/capture/errors.js';
import { bundledCaptureProgram, helperCommand, programCaptureArgs } from '../../main/capture/service.js';
import { CAPTURE_PROGRAM } from './lab.js';

const saved = { exec: process.env.TAPSCOPE_CAPTURE_EXEC, backend: process.env.TAPSCOPE_CAPTURE_BACKEND };
afterEach(() => {
  for (const [k, v] of [['TAPSCOPE_CAPTURE_EXEC', saved.exec], ['TAPSCOPE_CAPTURE_BACKEND', saved.backend]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('capture command', () => {
  it('the capture program when built; the JavaScript helper when asked for a backend or a runtime', (ctx) => {
    delete process.env.TAPSCOPE_CAPTURE_EXEC;
    delete process.env.TAPSCOPE_CAPTURE_BACKEND;
    if (!existsSync(CAPTURE_PROGRAM)) ctx.skip('the capture program is not built (npm run build needs cc and libpcap headers)');
    expect(bundledCaptureProgram()).toBe(CAPTURE_PROGRAM);
    const installed = existsSync(INSTALLED_PROGRAM);
    expect(helperCommand()).toMatchObject({ kind: 'program', exec: installed ? INSTALLED_PROGRAM : CAPTURE_PROGRAM, args: [] });
    // The program's environment: PATH only (for wrappers), nothing else of ours.
    expect(Object.keys(helperCommand().env)).toEqual(process.env.PATH ? ['PATH'] : []);
    process.env.TAPSCOPE_CAPTURE_EXEC = '/opt/x/tapscope-capture';
    expect(helperCommand()).toMatchObject({ kind: 'program', exec: '/opt/x/tapscope-capture' });
    process.env.TAPSCOPE_CAPTURE_EXEC = '/usr/local/lib/tapscope/capture-node';
    expect(helperCommand()).toMatchObject({ kind: 'script', exec: '/usr/local/lib/tapscope/capture-node' });
    expect(helperCommand().args[0]).toMatch(/capture-helper\.mjs$/);
    delete process.env.TAPSCOPE_CAPTURE_EXEC;
    for (const b of ['cap', 'tapcap']) {
      process.env.TAPSCOPE_CAPTURE_BACKEND = b;
      expect(helperCommand()).toMatchObject({ kind: 'script', exec: process.execPath });
    }
  });

  it('maps the capture options to the program arguments', () => {
    expect(programCaptureArgs({ device: 'eth0' })).toEqual(['-i', 'eth0']);
    expect(programCaptureArgs({ device: 'br0', filter: 'tcp port 80', snaplen: 128, bufferSize: 8 << 20, promisc: false }))
      .toEqual(['-i', 'br0', '-f', 'tcp port 80', '-s', '128', '-B', String(8 << 20), '-p']);
    // A filter starting with '-' stays the option's value (getopt takes the next argument as is).
    expect(programCaptureArgs({ device: 'lo', filter: '-x' })).toEqual(['-i', 'lo', '-f', '-x']);
  });

  it('the remedy gives CAP_NET_RAW to the capture program only; without it, to a dedicated runtime', () => {
    const built = permissionRemedy({ kind: 'program', source: '/app/out/native/tapscope-capture' }, 'linux');
    expect(built).toContain(`sudo install -D -m 0750 -g pcap /app/out/native/tapscope-capture ${INSTALLED_PROGRAM}`);
    expect(built).toContain(`sudo setcap cap_net_raw=ep ${INSTALLED_PROGRAM}`);
    expect(built).toContain('groupadd -f pcap');
    expect(built).not.toMatch(/cap_net_admin|TAPSCOPE_CAPTURE_EXEC|node/);
    // Already installed (but without the capability, or the user not yet in the group): no install line.
    expect(permissionRemedy({ kind: 'program', source: INSTALLED_PROGRAM }, 'linux')).not.toContain('sudo install');
    const runtime = permissionRemedy({ kind: 'runtime', source: null }, 'linux');
    expect(runtime).toMatch(/tapscope-capture was not built/);
    expect(runtime).toContain('sudo setcap cap_net_raw=ep /usr/local/lib/tapscope/capture-node');
    expect(runtime).toContain('export TAPSCOPE_CAPTURE_EXEC=/usr/local/lib/tapscope/capture-node');
    expect(permissionRemedy({ kind: 'program', source: 'x' }, 'darwin')).toMatch(/bpf/);
  });
});
