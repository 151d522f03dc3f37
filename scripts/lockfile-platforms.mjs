#!/usr/bin/env node
/**
 * `node scripts/lockfile-platforms.mjs [package-lock.json ...]`: npm records in a lockfile
 * only the optional platform packages of the machine that wrote it, and `npm ci` elsewhere
 * (or here, for packages whose other-platform builds the registry does not list) refuses a
 * lock that lacks them. This adds an entry for each missing one, with the version, OS and
 * CPU its name says, so `npm ci` can skip it on a platform it does not fit. Run it after
 * any `npm install` that changes a lockfile.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORM = /-(darwin|linux|windows|win32)-(x64|arm64)(-baseline)?(-musl)?$/;

/** Adds the missing platform entries to a lockfile's packages; returns the names added. */
export function addPlatformEntries(lock) {
  const packages = lock.packages;
  const added = [];
  for (const entry of Object.values(packages)) {
    for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
      const key = `node_modules/${dep}`;
      const platform = PLATFORM.exec(dep);
      if (packages[key] || !platform) continue;
      packages[key] = {
        version: range.replace(/^npm:.*@/, ''),
        cpu: [platform[2]],
        ...(entry.dev ? { dev: true } : {}),
        optional: true,
        ...(platform[4] ? { libc: ['musl'] } : {}),
        os: [platform[1] === 'windows' ? 'win32' : platform[1]],
      };
      added.push(key);
    }
  }
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  return added;
}

for (const file of process.argv.slice(2).length ? process.argv.slice(2) : ['package-lock.json']) {
  const lock = JSON.parse(readFileSync(file, 'utf8'));
  const added = addPlatformEntries(lock);
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`${file}: ${added.length} platform entr${added.length === 1 ? 'y' : 'ies'} added${added.length ? `: ${added.join(', ')}` : ''}`);
}
