#!/usr/bin/env node
/**
 * `prestart` / `pretest`: installs the project's packages when they are missing or not the
 * locked versions, so `npm start` and `npm test` work as the first command typed in a
 * fresh clone. Plain JavaScript on purpose: it runs on whatever Node the machine has
 * (Node 22, which the rest needs, arrives with the install as the `node` devDependency,
 * and npm scripts find it on their PATH afterwards).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The direct dependencies that are not installed at their locked version (empty when all
 * are). Reads package.json, package-lock.json and each package's own package.json.
 */
export function missingPackages(projectDir) {
  const manifest = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8'));
  const lockPath = join(projectDir, 'package-lock.json');
  const locked = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, 'utf8')).packages ?? {} : {};
  const names = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
  return names.filter((name) => {
    const installed = join(projectDir, 'node_modules', name, 'package.json');
    if (!existsSync(installed)) return true;
    const want = locked[`node_modules/${name}`]?.version;
    return want !== undefined && JSON.parse(readFileSync(installed, 'utf8')).version !== want;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const missing = missingPackages(root);
  if (missing.length > 0) {
    const shown = missing.length > 4 ? `${missing.slice(0, 4).join(', ')} and ${missing.length - 4} more` : missing.join(', ');
    console.log(`[gastown] installing packages (${shown} not installed at the locked version): npm ci`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    if (result.status !== 0) {
      console.error('[gastown] npm ci failed; see above');
      process.exit(result.status ?? 1);
    }
  }
}
