import { app, type BrowserWindow } from 'electron';
import { join } from 'node:path';
import { TapscopeService } from './services/service.js';
import { registerIpc, chooseOpenPath, EVENT_CHANNEL } from './electron/ipc-transport.js';
import { registerAppScheme, secureAllWebContents } from './electron/security.js';
import { APP_CSP } from './electron/app-protocol.js';
import { appUrlFor, buildMenu, createWindow, rendererDir } from './electron/window.js';

/*
 * Electron main: thin wiring only. Boot, in order:
 *   1. one instance (a second launch hands its file to the first and quits)
 *   2. lock down every web contents and serve the page as app://tapscope/ (security.ts)
 *   3. the TapscopeService (plain Node; analysis runs in worker threads)
 *   4. IPC handlers for the API contract (ipc-transport.ts)
 *   5. menu and window; files from the command line, open-file and second-instance events
 */
const baseDir = __dirname; // out/main
const appUrl = (): string => appUrlFor(baseDir);
let win: BrowserWindow | null = null;
const pending: string[] = [];

function filesFrom(argv: string[]): string[] {
  return argv.slice(app.isPackaged ? 1 : 2).filter((a) => !a.startsWith('-') && /\.(pcapng|pcap|cap)$/i.test(a));
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // Every renderer sandboxed (checklist 4), app:// registered before 'ready'.
  app.enableSandbox();
  registerAppScheme();
  secureAllWebContents(appUrl, rendererDir(baseDir), APP_CSP);
  const service = new TapscopeService({
    // Worker threads load real files: in the package, out/cli is unpacked beside app.asar.
    workerFile: join(baseDir, '..', 'cli', 'analyze-worker.mjs').replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2'),
    stateDir: app.getPath('userData'),
    exportDir: join(app.getPath('temp'), 'tapscope-exports'),
    samplePath: app.isPackaged ? join(process.resourcesPath, 'sample', 'tapscope-sample.pcapng') : join(app.getAppPath(), 'resources', 'sample', 'tapscope-sample.pcapng'),
    version: app.getVersion(),
    transport: 'electron',
  });

  const open = async (path: string): Promise<void> => {
    if (!win) {
      pending.push(path);
      return;
    }
    try {
      const info = await service.openFile({ path, decodeAs: [] });
      win.webContents.send(EVENT_CHANNEL, 'opened', info);
    } catch (e) {
      win.webContents.send(EVENT_CHANNEL, 'progress', { sessionId: '', state: 'failed', bytesRead: 0, size: 0, packets: 0, connections: 0, message: (e as Error).message });
    }
  };

  app.on('second-instance', (_e, argv) => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
    for (const f of filesFrom(argv)) void open(f);
  });
  app.on('open-file', (e, path) => {
    e.preventDefault();
    void open(path);
  });
  pending.push(...filesFrom(process.argv));

  void app.whenReady().then(() => {
    registerIpc(service, () => win, appUrl);
    buildMenu({
      open: () => void chooseOpenPath(win).then((p) => {
        if (p) void open(p);
      }),
      openSample: () => void service.openSample().then((info) => win?.webContents.send(EVENT_CHANNEL, 'opened', info), () => {}),
    });
    win = createWindow(baseDir);
    win.on('closed', () => (win = null));
    win.webContents.once('did-finish-load', () => {
      for (const f of pending.splice(0)) void open(f);
    });
  });
  app.on('window-all-closed', () => {
    void service.dispose().finally(() => app.quit());
  });
}
