/*
 * `tapscope listen` / `tapscope capture` as a process for tests, run from the sources (tsx):
 * the same runListenCli/runCaptureCli that main/cli/tapscope.ts dispatches to, without
 * loading the other commands (and without needing `npm run build`).
 *   node --import tsx test/flows/listen-cli.ts listen --vxlan 4789 ...
 */
import { runCaptureCli, runListenCli } from '../../main/cli/capture.js';

const [cmd, ...rest] = process.argv.slice(2);
const run = cmd === 'capture' ? runCaptureCli : runListenCli;
run(rest, { out: process.stdout, err: process.stderr }).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`tapscope ${cmd}: ${(e as Error).message}\n`); process.exitCode = 1; },
);
