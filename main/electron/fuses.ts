/*
 * The Electron fuses the packaged app is built with (electron-builder.yml `electronFuses`,
 * flipped in the Electron binary itself, so no environment variable or flag can undo them).
 * Every fuse Electron 45 has is set; docs/security.md gives the reason for each. Plain data:
 * test/services/electron-builder.test.ts checks the configuration and the packaged binary
 * against it.
 */
export const ELECTRON_FUSES = {
  // The capture runs in the native program out/native/tapscope-capture, and workers are
  // worker threads: nothing needs ELECTRON_RUN_AS_NODE (which would make the app binary a
  // general-purpose Node.js for anyone who can set an environment variable).
  runAsNode: false,
  enableCookieEncryption: true,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  // Checked by Electron on macOS and Windows; Electron has no such check on Linux.
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
  // No custom browser-process V8 snapshot is shipped: keep Electron's default one.
  loadBrowserProcessSpecificV8Snapshot: false,
  // The page is app://tapscope/ (app-protocol.ts); nothing is loaded from file://.
  grantFileProtocolExtraPrivileges: false,
} as const;

export type FuseName = keyof typeof ELECTRON_FUSES;

/** The fuse wire's order (@electron/fuses FuseV1Options). */
export const FUSE_WIRE_ORDER: readonly FuseName[] = [
  'runAsNode', 'enableCookieEncryption', 'enableNodeOptionsEnvironmentVariable', 'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation', 'onlyLoadAppFromAsar', 'loadBrowserProcessSpecificV8Snapshot', 'grantFileProtocolExtraPrivileges',
];

/** Differences between a configuration's electronFuses and ELECTRON_FUSES (empty: as required). */
export function fuseProblems(config: { electronFuses?: Record<string, unknown> | null }): string[] {
  const f = config.electronFuses;
  if (!f || typeof f !== 'object') return ['electronFuses is not set'];
  const out: string[] = [];
  for (const [name, want] of Object.entries(ELECTRON_FUSES)) {
    if (f[name] !== want) out.push(`${name} is ${JSON.stringify(f[name])}, should be ${want}`);
  }
  return out;
}
