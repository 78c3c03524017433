import { BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { API_EVENTS, API_METHODS, ApiError } from '../../preload/api.js';
import type { TapscopeService } from '../services/service.js';
import { validateCall } from '../services/validate.js';
import { isAppUrl, saveDialogDefaults } from './policy.js';
import { errorEnvelope, resultEnvelope } from '../../preload/envelope.js';

/*
 * The API contract over Electron IPC: one `ipcMain.handle('tapscope:<method>')` per
 * method of API_METHODS. Each call is accepted only from the app window's main frame
 * showing the app's own page (checklist 17: validate the sender), its arguments are
 * validated, and the answer is an envelope (preload/envelope.ts) that keeps the error's
 * name, message and code across the bridge. Events go out on 'tapscope:event'.
 */
export const CHANNEL_PREFIX = 'tapscope:';
export const EVENT_CHANNEL = 'tapscope:event';

export function registerIpc(service: TapscopeService, win: () => BrowserWindow | null, appUrl: () => string): () => void {
  const trusted = (e: IpcMainInvokeEvent): boolean => {
    const w = win();
    const frame = e.senderFrame;
    return !!w && !!frame && e.sender === w.webContents && frame === w.webContents.mainFrame && isAppUrl(frame.url, appUrl());
  };
  for (const m of API_METHODS) {
    ipcMain.handle(CHANNEL_PREFIX + m, async (e, ...raw: unknown[]) => {
      if (!trusted(e)) return errorEnvelope(new ApiError('refused: the call did not come from the Tapscope window', 'forbidden'));
      try {
        const { method, args } = validateCall(m, raw);
        if (method === 'chooseSavePath') return resultEnvelope(await chooseSavePath(service, win(), args[0] as string));
        if (method === 'chooseOpenPath') return resultEnvelope(await chooseOpenPath(win()));
        const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
        return resultEnvelope(await fn.apply(service, args));
      } catch (err) {
        return errorEnvelope(err);
      }
    });
  }
  const offs = API_EVENTS.map((ev) => service.on(ev, (data) => win()?.webContents.send(EVENT_CHANNEL, ev, data)));
  return () => {
    for (const m of API_METHODS) ipcMain.removeHandler(CHANNEL_PREFIX + m);
    offs.forEach((o) => o());
  };
}

async function chooseSavePath(service: TapscopeService, w: BrowserWindow | null, defaultName: string): Promise<string | null> {
  // A bare file name with an allowed extension, whatever the page asked for (policy.ts).
  const opts = saveDialogDefaults(defaultName);
  const r = w ? await dialog.showSaveDialog(w, opts) : await dialog.showSaveDialog(opts);
  if (r.canceled || !r.filePath) return null;
  // The service writes only to paths the user chose in this dialog.
  service.approveWritePath(r.filePath);
  return r.filePath;
}

export async function chooseOpenPath(w: BrowserWindow | null): Promise<string | null> {
  const opts = { properties: ['openFile' as const], filters: [{ name: 'Captures', extensions: ['pcap', 'pcapng', 'cap'] }, { name: 'All files', extensions: ['*'] }] };
  const r = w ? await dialog.showOpenDialog(w, opts) : await dialog.showOpenDialog(opts);
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
}
