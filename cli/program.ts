import { Command } from 'commander';
import { registerAgents } from './commands/agents.ts';
import { registerEvents } from './commands/events.ts';
import { registerLogin } from './commands/login.ts';
import { registerMayor } from './commands/mayor.ts';
import { registerSettings } from './commands/settings.ts';
import { registerTokenInspect } from './commands/token-inspect.ts';
import { registerRefresh, registerTokens } from './commands/tokens.ts';
import { registerTowns } from './commands/towns.ts';
import type { CliContext } from './context.ts';

/** The `gastown` command tree. Errors are thrown (exitOverride), never `process.exit`ed here. */
export function createProgram(cli: CliContext): Command {
  const program = new Command('gastown')
    .description('Drive a Gastown: towns, agents, the mayor, live events and token health. Tokens renew themselves.')
    .version('0.1.0')
    .option('--url <url>', 'the Worker URL (env GASTOWN_URL)')
    .option('--client-id <id>', 'client id (env GASTOWN_CLIENT_ID)')
    .option('--client-secret <secret>', 'client secret (env GASTOWN_CLIENT_SECRET; prefer the env or gastown login)')
    .option('--json', 'machine-readable output on stdout')
    .exitOverride()
    .hook('preAction', (_program, action) => {
      cli.jsonOutput = Boolean(action.optsWithGlobals<{ json?: boolean }>().json);
    })
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => cli.stderr.write(s) })
    .addHelpText(
      'after',
      `
Configuration: flags, then GASTOWN_URL / GASTOWN_CLIENT_ID / GASTOWN_CLIENT_SECRET, then the file
gastown login writes ($XDG_CONFIG_HOME/gastown/config.json or ~/.config/gastown/config.json, mode 600).
A town argument may be left out when you have exactly one town.
Exit codes: 0 ok, 1 failure, 2 usage.`,
    );
  registerLogin(program, cli);
  registerTowns(program, cli);
  registerAgents(program, cli);
  registerMayor(program, cli);
  registerEvents(program, cli);
  registerTokens(program, cli);
  registerRefresh(program, cli);
  registerTokenInspect(program, cli);
  registerSettings(program, cli);
  return program;
}
