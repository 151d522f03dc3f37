import { InvalidArgumentError, type Command } from 'commander';
import { abortableSleep, type GastownClient, type MayorMessage, type MayorMessageReceipt } from '../../sdk/index.ts';
import type { CliContext } from '../context.ts';
import { CliFailure, UsageError } from '../errors.ts';

const POLL_MS = 500;

/** `mayor [town] <text>`: send, then wait for the mayor's reply in the conversation. */
export function registerMayor(program: Command, cli: CliContext): void {
  program
    .command('mayor')
    .description("message the town's mayor and print its reply (town: default your only town)")
    .argument('<town-and-text...>', '[town] "text"')
    .option('--timeout <seconds>', 'how long to wait for the reply', parseSeconds, 120)
    .option('--no-wait', 'send only; do not wait for the reply')
    .action(async (args: string[], options: { timeout: number; wait: boolean }, command: Command) => {
      const [given, text] = args.length === 1 ? [undefined, args[0]!] : [args[0]!, args.slice(1).join(' ')];
      if (!text.trim()) throw new UsageError('the message is empty');
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const receipt = await cli.wait('sending to the mayor', client.sendMayorMessage(townId, text));
      if (!options.wait) {
        cli.print(command, receipt, () => `sent to the mayor ${receipt.agentId} (message ${receipt.messageId}${receipt.delivered ? '' : ', not delivered yet'})`);
        return;
      }
      const replies = await cli.wait("waiting for the mayor's reply", awaitReply(client, townId, receipt, options.timeout * 1000));
      cli.print(command, { ...receipt, replies }, () => replies.map((m) => m.text).join('\n'));
    });
}

/** Polls the conversation after the user's message until the mayor has answered. */
async function awaitReply(client: GastownClient, townId: string, receipt: MayorMessageReceipt, timeoutMs: number): Promise<MayorMessage[]> {
  if (typeof receipt.messageId !== 'number') throw new CliFailure('invalid_response', 'the Worker did not say which message it stored (no messageId)');
  const deadline = Date.now() + timeoutMs;
  let after = receipt.messageId;
  for (;;) {
    const replies: MayorMessage[] = [];
    for (const message of await client.mayorMessages(townId, { after })) {
      after = Math.max(after, message.id);
      if (message.from === 'mayor') replies.push(message);
    }
    if (replies.length > 0) return replies;
    if (Date.now() >= deadline) break;
    await abortableSleep(Math.min(POLL_MS, deadline - Date.now()));
  }
  const state = receipt.delivered ? 'it was delivered' : 'it was not delivered yet';
  throw new CliFailure('no_reply', `no reply from the mayor within ${Math.round(timeoutMs / 1000)} s (${state}; gastown events shows what the town is doing)`);
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}
