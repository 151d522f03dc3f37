import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TOWN_MIGRATIONS } from '../../src/storage/migrations';
import { applyMigrations } from '../../src/storage/sql';

describe('TownDO schema migrations', () => {
  it('are applied in order at first use, each version recorded once', async () => {
    const versions = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) =>
      state.storage.sql.exec<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version').toArray().map((r) => r.version),
    );
    expect(versions).toEqual(TOWN_MIGRATIONS.map((m) => m.version));
  });

  it('upgrade a version-1 town in place: live agents get a stall check, ended ones none', async () => {
    const result = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) => {
      const sql = state.storage.sql;
      // back to version 1, with one live and one ended agent
      sql.exec('DROP INDEX agents_stall_check');
      sql.exec('ALTER TABLE agents DROP COLUMN stall_check_at');
      sql.exec('ALTER TABLE agents DROP COLUMN token_gen_started_at');
      sql.exec('DELETE FROM schema_migrations WHERE version > 1');
      sql.exec(`INSERT INTO agents (id, role, status, created_at, started_at, last_heartbeat_at) VALUES ('live', 'polecat', 'working', 1000, 2000, 5000)`);
      sql.exec(`INSERT INTO agents (id, role, status, created_at, started_at, ended_at) VALUES ('gone', 'polecat', 'exited', 1000, 2000, 3000)`);

      const version = applyMigrations(state.storage, TOWN_MIGRATIONS);
      const again = applyMigrations(state.storage, TOWN_MIGRATIONS);
      const rows = sql.exec<{ id: string; at: number | null }>('SELECT id, stall_check_at AS at FROM agents ORDER BY id').toArray();
      return { version, again, rows };
    });
    expect(result.version).toBe(3);
    expect(result.again).toBe(3);
    expect(result.rows).toEqual([
      { id: 'gone', at: null },
      { id: 'live', at: 5000 + 120_000 },
    ]);
  });

  it('upgrade a version-2 town: each agent gets the start of its token generation', async () => {
    const rows = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) => {
      const sql = state.storage.sql;
      sql.exec('ALTER TABLE agents DROP COLUMN token_gen_started_at');
      sql.exec('DELETE FROM schema_migrations WHERE version > 2');
      sql.exec(`INSERT INTO agents (id, role, status, token_gen, created_at, started_at) VALUES ('first', 'polecat', 'working', 1, 1000, 2000)`);
      sql.exec(`INSERT INTO agents (id, role, status, token_gen, created_at, started_at) VALUES ('revived', 'mayor', 'working', 3, 1000, 9000)`);
      applyMigrations(state.storage, TOWN_MIGRATIONS);
      return sql.exec<{ id: string; at: number | null }>('SELECT id, token_gen_started_at AS at FROM agents ORDER BY id').toArray();
    });
    expect(rows).toEqual([
      { id: 'first', at: 1000 },
      { id: 'revived', at: 9000 },
    ]);
  });
});
