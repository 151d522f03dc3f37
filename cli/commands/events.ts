import { InvalidArgumentError, type Command } from 'commander';
import { isGap, type ReconnectInfo, type TownStreamItem } from '../../sdk/index.ts';
import type { CliContext } from '../context.ts';
import { duration, statusLine } from '../output.ts';

/** Without --follow: give up waiting for the first event after this long. */
const FIRST_EVENT_WAIT_MS = 5_000;
/** Without --follow: the replay is over once the stream is quiet this long. */
const QUIET_MS = 1_000;

/** `events [town] [--follow]`: the town's event stream, one line (or JSON object) per event. */
export function registerEvents(program: Command, cli: CliContext): void {
  program
    .command('events')
    .description("the town's events: what the server retains, then (--follow) live until Ctrl-C")
    .argument('[town]', 'town id (default: your only town)')
    .option('-f, --follow', 'keep following live events (survives token expiry and reconnects)')
    .option('--after <id>', 'start after this event id', parseId)
    .action(async (given: string | undefined, options: { follow?: boolean; after?: number }, command: Command) => {
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const json = cli.json(command);
      const status = statusLine(cli.stderr);
      const controller = new AbortController();
      const stop = () => controller.abort();
      // A repeated Ctrl-C (or one passed on by the launcher) is the same request: stop.
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      let quiet: ReturnType<typeof setTimeout> | undefined;
      const armQuiet = (ms: number) => {
        if (options.follow) return;
        clearTimeout(quiet);
        quiet = setTimeout(stop, ms);
      };
      const onReconnect = (info: ReconnectInfo) => status.show(`reconnecting (${describe(info)}) in ${duration(info.delayMs)}…`);
      armQuiet(FIRST_EVENT_WAIT_MS);
      try {
        const stream = client.events(townId, { signal: controller.signal, onReconnect, ...(options.after === undefined ? {} : { lastEventId: options.after }) });
        for await (const item of stream) {
          status.clear();
          cli.stdout.write(`${json ? JSON.stringify(item) : line(item)}\n`);
          armQuiet(QUIET_MS);
        }
      } finally {
        clearTimeout(quiet);
        status.clear();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}

function line(item: TownStreamItem): string {
  if (isGap(item)) {
    return `-- gap: events after #${item.after} and before #${item.oldest} are no longer kept by the server; continuing from #${item.oldest}`;
  }
  return `#${item.id}  ${item.type}  ${typeof item.data === 'string' ? item.data : JSON.stringify(item.data)}`;
}

function describe(info: ReconnectInfo): string {
  if (info.reason === 'unauthorized') return 'token refused';
  if (info.reason === 'ended') return 'stream ended';
  if (info.reason === 'idle') return 'connection silent';
  return info.error ? `${info.error.code}` : info.reason;
}

function parseId(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected an event id (a non-negative integer), got ${JSON.stringify(value)}`);
  return n;
}
