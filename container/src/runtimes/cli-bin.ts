/**
 * Where the agent CLIs are, and `gt`. A CLI is `GASTOWN_<NAME>_BIN` when set (a path, or a name on PATH), else
 * the `bin` of its npm package as installed beside the control server (the pinned
 * devDependencies), else its bare name on PATH. A Node script is run with the control
 * server's Node, so no other Node on PATH is needed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The folder holding `gt` (container/bin): first on the PATH of every agent and of every CLI it runs. */
export const GT_BIN_DIR = fileURLToPath(new URL('../../bin', import.meta.url));

/** The argv prefix that runs `bin` of npm package `pkg`. */
export function cliCommand(pkg: string, bin: string, nodePath: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env[`GASTOWN_${bin.toUpperCase()}_BIN`];
  if (override) return [override];
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    const bins = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> }).bin;
    const rel = typeof bins === 'string' ? bins : bins?.[bin];
    if (!rel) return [bin];
    const path = join(dirname(manifest), rel);
    return /\.(c|m)?js$/.test(path) ? [nodePath, path] : [path];
  } catch {
    return [bin];
  }
}
