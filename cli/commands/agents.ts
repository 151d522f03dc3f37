import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AgentEvent } from '../../sdk/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { relative, table } from '../output.ts';

const ROLES = ['mayor', 'polecat', 'refinery'];

/** `agents list|start|stop|events`. */
export function registerAgents(program: Command, cli: CliContext): void {
  const agents = program.command('agents').description("a town's agents");
  agents
    .command('list')
    .description("list a town's agents (default: your only town)")
    .argument('[town]', 'town id')
    .action(async (given: string | undefined, _options, command: Command) => {
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const town = await cli.wait('reading the town', client.getTown(townId));
      const now = Date.now();
      cli.print(command, { townId, agents: town.agents }, () =>
        town.agents.length === 0
          ? 'no agents'
          : table(
              ['ID', 'ROLE', 'STATUS', 'RIG', 'BEAD', 'HEARTBEAT', 'STARTED'],
              town.agents.map((a) => [a.id, a.role, a.status, a.rigId ?? '-', a.beadId ?? '-', relative(a.lastHeartbeatAt, now), relative(a.createdAt, now)]),
              { color: cli.color, emphasis: town.agents.map((a) => (a.status === 'stalled' || a.status === 'failed' ? 'bad' : undefined)) },
            ),
      );
    });
  agents
    .command('start')
    .description('dispatch an agent into a rig')
    .argument('<town>', 'town id')
    .argument('<rig>', 'rig id')
    .addOption(new Option('--role <role>', 'agent role').choices(ROLES).makeOptionMandatory())
    .option('--runtime <runtime>', "builtin, claude-code, codex, opencode (default: the town's)")
    .option('--bead <beadId>', 'bead to assign to the agent')
    .option('--command <argv...>', 'explicit argv to run instead of a runtime (no shell)')
    .action(async (town: string, rig: string, options: { role: string; runtime?: string; bead?: string; command?: string[] }, command: Command) => {
      if (options.command && options.runtime) throw new UsageError('give --runtime or --command, not both');
      const input = {
        role: options.role,
        ...(options.bead ? { beadId: options.bead } : {}),
        ...(options.runtime ? { runtime: options.runtime } : {}),
        ...(options.command ? { command: options.command } : {}),
      };
      const agent = await cli.wait('starting the agent', cli.client(command).startAgent(town, rig, input));
      cli.print(command, agent, () => `started ${agent.role} ${agent.id} (${agent.status})`);
    });
  agents
    .command('stop')
    .description('stop an agent and revoke its tokens')
    .argument('<town>', 'town id')
    .argument('<agent>', 'agent id')
    .action(async (town: string, agentId: string, _options, command: Command) => {
      const agent = await cli.wait('stopping the agent', cli.client(command).stopAgent(town, agentId));
      cli.print(command, agent, () => `stopped ${agent.role} ${agent.id} (${agent.status})`);
    });
  agents
    .command('events')
    .description("an agent's stored events (oldest first; --json: newest first, as the API)")
    .argument('<town>', 'town id')
    .argument('<agent>', 'agent id')
    .option('--limit <n>', 'how many of the newest events (1..1000)', parseLimit, 100)
    .action(async (town: string, agentId: string, options: { limit: number }, command: Command) => {
      const result = await cli.wait('reading events', cli.client(command).agentEvents(town, agentId, { limit: options.limit }));
      cli.print(command, result, () => [...result.events].reverse().map(eventLine).join('\n') || 'no events');
    });
}

function eventLine(event: AgentEvent): string {
  const { id: _id, type, storedAt, ...rest } = event;
  const text = typeof rest.text === 'string' ? rest.text : JSON.stringify(rest);
  return `${storedAt ?? ''}  ${type}  ${text}`.trim();
}

/** A positive integer option value (commander reports the error as a usage error). */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
