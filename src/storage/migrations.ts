import init from '../../migrations/0001_init.sql';
import stallCheck from '../../migrations/0002_stall_check.sql';
import tokenGenStarted from '../../migrations/0003_token_gen_started.sql';
import lifecycle from '../../migrations/0004_lifecycle.sql';
import retention from '../../migrations/0005_retention.sql';
import type { Migration } from './sql';

/** The TownDO schema migrations, in order. Add a file to migrations/ and a line here. */
export const TOWN_MIGRATIONS: readonly Migration[] = [
  { version: 1, sql: init },
  { version: 2, sql: stallCheck },
  { version: 3, sql: tokenGenStarted },
  { version: 4, sql: lifecycle },
  { version: 5, sql: retention },
];
