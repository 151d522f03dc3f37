import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { ClientCredentialsTokenManager } from '../../sdk/index.ts';
import { readConfigFile, removeConfigFile, writeConfigFile } from '../config.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

/** `login` and `logout`: credentials stored in the user's config directory, mode 0600. */
export function registerLogin(program: Command, cli: CliContext): void {
  program
    .command('login')
    .description('store the URL and client credentials (config file, mode 600); asks for what is missing on a terminal')
    .option('--client-secret-stdin', 'read the client secret from stdin')
    .option('--no-verify', 'do not check the credentials against the Worker')
    .action(async (options: { clientSecretStdin?: boolean; verify: boolean }, command: Command) => {
      const flags = cli.options(command);
      const stored = readConfigFile(cli.configPath, (m) => cli.warn(m));
      const interactive = Boolean(process.stdin.isTTY && cli.stderr.isTTY);
      const url = flags.url || cli.env.GASTOWN_URL || (interactive ? await ask(cli, `Gastown URL${stored.url ? ` [${stored.url}]` : ''}: `, false) : '') || stored.url;
      const clientId = flags.clientId || cli.env.GASTOWN_CLIENT_ID || (interactive ? await ask(cli, `client id${stored.clientId ? ` [${stored.clientId}]` : ''}: `, false) : '') || stored.clientId;
      let clientSecret = flags.clientSecret || cli.env.GASTOWN_CLIENT_SECRET;
      if (!clientSecret && options.clientSecretStdin) clientSecret = readFileSync(0, 'utf8').trim();
      if (!clientSecret && interactive) clientSecret = await ask(cli, `client secret (not shown)${stored.clientSecret ? ' [keep the stored one]' : ''}: `, true);
      clientSecret ||= stored.clientSecret;
      const missing = [!url && '--url', !clientId && '--client-id', !clientSecret && '--client-secret (or --client-secret-stdin)'].filter(Boolean);
      if (!url || !clientId || !clientSecret) throw new UsageError(`login needs ${missing.join(', ')}`);
      if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
      if (options.verify) {
        const tokens = new ClientCredentialsTokenManager({ baseUrl: url, clientId, clientSecret });
        await cli.wait('checking the credentials', tokens.getToken());
      }
      writeConfigFile(cli.configPath, { url, clientId, clientSecret });
      cli.print(command, { url, clientId, configFile: cli.configPath, verified: options.verify }, () =>
        `logged in to ${url} as ${clientId}${options.verify ? '' : ' (not verified)'}; saved to ${cli.configPath} (mode 600)`,
      );
    });
  program
    .command('logout')
    .description('remove the stored credentials')
    .action(async (_options, command: Command) => {
      const removed = removeConfigFile(cli.configPath);
      cli.print(command, { configFile: cli.configPath, removed }, () => (removed ? `removed ${cli.configPath}` : `nothing stored at ${cli.configPath}`));
    });
}

/** Asks on the terminal (prompt on stderr); `hidden` input is not echoed. */
async function ask(cli: CliContext, question: string, hidden: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) cli.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = rl.question(question);
    muted = hidden;
    return (await answer).trim();
  } finally {
    rl.close();
    if (hidden) cli.stderr.write('\n');
  }
}
