import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TOWN_MIGRATIONS } from '../../src/storage/migrations';
import { applyMigrations } from '../../src/storage/sql';

/** A TownDO holding a town (storage exists only once a town was created). */
async function townObject() {
  const id = `town-${crypto.randomUUID()}`;
  const stub = env.TOWN.getByName(id);
  expect((await stub.createTown({ id, name: 'm', userId: 'u', apiUrl: 'http://127.0.0.1:9' })).ok).toBe(true);
  return stub;
}

describe('TownDO schema migrations', () => {
  it('are applied in order by createTown, each version recorded once', async () => {
    const versions = await runInDurableObject(await townObject(), (_i, state) =>
      state.storage.sql.exec<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version').toArray().map((r) => r.version),
    );
    expect(versions).toEqual(TOWN_MIGRATIONS.map((m) => m.version));
  });

  it('an object that holds no town answers 404 and writes nothing', async () => {
    const stub = env.TOWN.getByName(`town-${crypto.randomUUID()}`);
    const res = await stub.getTown({ userId: 'u', apiUrl: '' });
    expect(res).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const tables = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec(`SELECT name FROM sqlite_master`).toArray());
    expect(tables).toEqual([]);
  });

  it('upgrade a version-1 town in place: live agents get a stall check, ended ones none', async () => {
    const result = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) => {
      const sql = state.storage.sql;
      applyMigrations(state.storage, TOWN_MIGRATIONS.slice(0, 1));
      sql.exec(`INSERT INTO agents (id, role, status, created_at, started_at, last_heartbeat_at) VALUES ('live', 'polecat', 'working', 1000, 2000, 5000)`);
      sql.exec(`INSERT INTO agents (id, role, status, created_at, started_at, ended_at) VALUES ('gone', 'polecat', 'exited', 1000, 2000, 3000)`);
      const version = applyMigrations(state.storage, TOWN_MIGRATIONS);
      const again = applyMigrations(state.storage, TOWN_MIGRATIONS);
      const rows = sql.exec<{ id: string; at: number | null }>('SELECT id, stall_check_at AS at FROM agents ORDER BY id').toArray();
      return { version, again, rows };
    });
    expect(result.version).toBe(TOWN_MIGRATIONS.length);
    expect(result.again).toBe(TOWN_MIGRATIONS.length);
    expect(result.rows).toEqual([
      { id: 'gone', at: null },
      { id: 'live', at: 5000 + 120_000 },
    ]);
  });

  it('upgrade a version-2 town: each agent gets the start of its token generation', async () => {
    const rows = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) => {
      const sql = state.storage.sql;
      applyMigrations(state.storage, TOWN_MIGRATIONS.slice(0, 2));
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

  it('upgrade a version-3 town: agents keep their rows, mail and events gain their new columns', async () => {
    const rows = await runInDurableObject(env.TOWN.getByName(`m-${crypto.randomUUID()}`), (_i, state) => {
      const sql = state.storage.sql;
      applyMigrations(state.storage, TOWN_MIGRATIONS.slice(0, 3));
      sql.exec(`INSERT INTO town (id, name, user_id, created_at) VALUES ('t', 'n', 'u', 1)`);
      sql.exec(`INSERT INTO agents (id, role, status, created_at) VALUES ('a', 'polecat', 'working', 1000)`);
      sql.exec(`INSERT INTO mail (id, from_agent, to_agent, body, sent_at) VALUES ('m', 'a', 'b', 'x', 1)`);
      applyMigrations(state.storage, TOWN_MIGRATIONS);
      return {
        agent: sql.exec(`SELECT restart_count AS r, events_bytes AS b FROM agents`).one(),
        mail: sql.exec(`SELECT deliveries AS d, lease_until AS l FROM mail`).one(),
        town: sql.exec(`SELECT default_runtime AS rt, container_credential_gen AS g FROM town`).one(),
      };
    });
    expect(rows).toEqual({ agent: { r: 0, b: 0 }, mail: { d: 0, l: null }, town: { rt: 'builtin', g: 0 } });
  });
});
