import { app } from './state.svelte';

/*
 * Closing or replacing the open capture (the title, Ctrl+O, a file the OS opens, a drop)
 * asks first when something would be lost: a live capture still running, or a live capture
 * whose packets were never saved (its spool file is not a file the user chose).
 */

export interface PendingConfirm {
  title: string;
  message: string;
  yes: string;
  run: () => void;
  cancel: () => void;
}

export const confirmation = $state({ pending: null as PendingConfirm | null });

/** What closing the session now would lose, in one sentence; null when nothing. */
export function lossReason(): string | null {
  const s = app.session;
  if (!s?.live) return null;
  if (s.state === 'opening' || app.capture?.running) return `The live capture ${s.name} is still running: closing it stops the capture, and its packets are lost unless you save them first.`;
  if (!app.liveSaved) return `The live capture ${s.name} has not been saved: its packets are lost unless you save them first.`;
  return null;
}

/** Runs `run` at once when nothing would be lost, else after the user confirms (`cancel` otherwise). */
export function guardClose(what: string, run: () => void, cancel: () => void = () => {}): void {
  const reason = lossReason();
  if (!reason) {
    run();
    return;
  }
  confirmation.pending = { title: what, message: reason, yes: what, run, cancel };
}

export function answer(yes: boolean): void {
  const p = confirmation.pending;
  confirmation.pending = null;
  if (!p) return;
  if (yes) p.run();
  else p.cancel();
}
