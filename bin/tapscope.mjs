#!/usr/bin/env node
// The CLI runs the bundled engine; `npm install` builds it (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'out', 'cli', 'tapscope.mjs');
if (!existsSync(entry)) {
  process.stderr.write(`tapscope: ${entry} is missing; run "npm run build" in ${root}\n`);
  process.exit(1);
}
await import(entry);
