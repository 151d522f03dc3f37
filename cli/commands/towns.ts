import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { relative, table } from '../output.ts';

/** `towns list|create` and `rigs create`. */
export function registerTowns(program: Command, cli: CliContext): void {
  const towns = program.command('towns').description('your towns');
  towns
    .command('list')
    .description('list your towns')
    .action(async (_options, command: Command) => {
      const list = await cli.wait('listing towns', cli.client(command).listTowns());
      const now = Date.now();
      cli.print(command, { towns: list }, () =>
        list.length === 0 ? 'no towns yet: gastown towns create <name>' : table(['ID', 'NAME', 'CREATED'], list.map((t) => [t.id, t.name, relative(t.createdAt, now)])),
      );
    });
  towns
    .command('create')
    .description('create a town')
    .argument('<name>', 'the town name')
    .action(async (name: string, _options, command: Command) => {
      const town = await cli.wait('creating the town', cli.client(command).createTown(name));
      cli.print(command, town, () => `created town ${town.name}: ${town.id}`);
    });

  const rigs = program.command('rigs').description("a town's rigs (projects)");
  rigs
    .command('create')
    .description('create a rig in a town')
    .argument('<town>', 'town id')
    .argument('<name>', 'the rig name')
    .option('--git-url <url>', 'repository the agents work on')
    .action(async (town: string, name: string, options: { gitUrl?: string }, command: Command) => {
      const body = options.gitUrl ? { name, gitUrl: options.gitUrl } : { name };
      const rig = await cli.wait('creating the rig', cli.client(command).createRig(town, body));
      cli.print(command, rig, () => `created rig ${rig.name}: ${rig.id}`);
    });
}
