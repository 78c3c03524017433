// `npm start`: the desktop app when the Electron runtime is installed; otherwise one line
// saying so, then browser mode (`tapscope serve`), which prints the URL to open.
// Arguments after `npm start --` go to `tapscope serve` in browser mode (e.g. --port 0).
import { existsSync, readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function electronBinary() {
  const dir = join(root, 'node_modules', 'electron');
  try {
    const rel = readFileSync(join(dir, 'path.txt'), 'utf8').trim();
    const bin = join(dir, 'dist', rel);
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

if (!existsSync(join(root, 'out', 'cli', 'tapscope.mjs')) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function run(cmd, argv, env = process.env) {
  const child = spawn(cmd, argv, { stdio: 'inherit', env });
  const forward = (sig) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
}

const electron = electronBinary();
if (electron && existsSync(join(root, 'out', 'main', 'app.cjs'))) {
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron, [root, ...args], env);
} else {
  process.stdout.write('The Electron runtime is missing (node_modules/electron/dist was not downloaded); starting browser mode instead.\n');
  run(process.execPath, [join(root, 'bin', 'tapscope.mjs'), 'serve', ...args]);
}
