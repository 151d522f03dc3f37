import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../scripts/lib/local-town.ts';

/**
 * The SDK runs in a browser and a Worker as well as Node: its files import no Node
 * built-in and use no Node global. (The workers test sdk-in-worker.test.ts runs it in
 * workerd, but the Worker has nodejs_compat on, which would hide a `node:` import.)
 */
describe('the SDK core is portable', () => {
  const dir = join(ROOT, 'sdk');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

  it.each(files)('%s imports no Node built-in and uses no Node global', (file) => {
    const source = readFileSync(join(dir, file), 'utf8');
    const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    expect(specifiers.filter((s) => s.startsWith('node:') || builtins.has(s))).toEqual([]);
    expect(source.match(/\b(process|Buffer|require|__dirname)\s*[.(]/g) ?? []).toEqual([]);
  });

  it('finds the SDK files it checks', () => {
    expect(files).toEqual(expect.arrayContaining(['client.ts', 'events.ts', 'token-manager.ts', 'transport.ts', 'index.ts']));
  });
});
