import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `settings show|set`: the town's default runtime and agent environment (values are write-only). */
export function registerSettings(program: Command, cli: CliContext): void {
  const settings = program.command('settings').description("a town's default runtime and agent environment");
  settings
    .command('show')
    .description('the default runtime and the names (never the values) of the agent environment')
    .argument('[town]', 'town id (default: your only town)')
    .action(async (given: string | undefined, _options, command: Command) => {
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const result = await cli.wait('reading settings', client.getSettings(townId));
      cli.print(command, result, () => `runtime: ${result.runtime}\nagent env: ${result.agentEnvNames.join(', ') || '(none)'}`);
    });
  settings
    .command('set')
    .description('change the default runtime or the agent environment')
    .argument('[town]', 'town id (default: your only town)')
    .option('--runtime <runtime>', 'builtin, claude-code, codex or opencode')
    .option('--env <NAME[=VALUE]>', 'set a variable; without =VALUE its value is read from your environment (keeps secrets off the command line)', collect)
    .option('--unset <NAME>', 'remove a variable', collect)
    .action(async (given: string | undefined, options: { runtime?: string; env?: string[]; unset?: string[] }, command: Command) => {
      const agentEnv: Record<string, string | null> = {};
      for (const entry of options.env ?? []) {
        const eq = entry.indexOf('=');
        const name = eq < 0 ? entry : entry.slice(0, eq);
        if (!ENV_NAME.test(name)) throw new UsageError(`--env ${JSON.stringify(name)}: not a variable name`);
        const value = eq < 0 ? cli.env[name] : entry.slice(eq + 1);
        if (value === undefined) throw new UsageError(`--env ${name}: ${name} is not set in your environment (or give ${name}=VALUE)`);
        agentEnv[name] = value;
      }
      for (const name of options.unset ?? []) {
        if (!ENV_NAME.test(name)) throw new UsageError(`--unset ${JSON.stringify(name)}: not a variable name`);
        agentEnv[name] = null;
      }
      if (!options.runtime && Object.keys(agentEnv).length === 0) throw new UsageError('nothing to change: give --runtime, --env or --unset');
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const update = { ...(options.runtime ? { runtime: options.runtime } : {}), ...(Object.keys(agentEnv).length ? { agentEnv } : {}) };
      const result = await cli.wait('saving settings', client.updateSettings(townId, update));
      cli.print(command, result, () => `runtime: ${result.runtime}\nagent env: ${result.agentEnvNames.join(', ') || '(none)'}`);
    });
}
