#!/usr/bin/env node
/**
 * The `gastown` executable. Plain JavaScript on purpose: it is what `npx gastown` starts,
 * on whatever Node the PATH offers. The CLI itself is TypeScript run by Node's type
 * stripping (Node ≥ 22.18); on an older Node this re-runs it with the project's own
 * Node 22 (`node_modules/.bin/node`, the `node` devDependency), passing signals and the
 * exit code through.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'main.ts');

if (process.features && process.features.typescript) {
  await import(entry);
} else {
  const projectNode = join(here, '..', 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
  if (!existsSync(projectNode)) {
    process.stderr.write(`gastown: Node ${process.versions.node} cannot run the CLI (it needs Node >= 22.18) and ${projectNode} is missing: run npm install in ${join(here, '..')}\n`);
    process.exit(1);
  }
  const child = spawn(projectNode, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Passed on even when the terminal also sent it to the child: the CLI treats a repeated
  // SIGINT like the first.
  const numbers = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
  for (const signal of Object.keys(numbers)) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(signal ? 128 + (numbers[signal] ?? 1) : (code ?? 1)));
}
