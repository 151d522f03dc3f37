import type { Command } from 'commander';
import { GastownClient } from '../sdk/index.ts';
import { configPath, readConfigFile, resolveConfig, type ConnectionFlags, type ResolvedConfig } from './config.ts';
import { UsageError } from './errors.ts';
import { useColor, withProgress } from './output.ts';

/** The global flags every command takes. */
export interface GlobalOptions extends ConnectionFlags {
  json?: boolean;
}

/** What a command needs from the outside world: flags, environment, output, the API. */
export class CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Set from `--json` before a command runs: output for programs, so no spinner either. */
  jsonOutput = false;

  constructor(io: { env?: NodeJS.ProcessEnv; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream } = {}) {
    this.env = io.env ?? process.env;
    this.stdout = io.stdout ?? process.stdout;
    this.stderr = io.stderr ?? process.stderr;
  }

  get configPath(): string {
    return configPath(this.env);
  }

  get color(): boolean {
    return useColor(this.stdout, this.env);
  }

  options(command: Command): GlobalOptions {
    return command.optsWithGlobals<GlobalOptions>();
  }

  json(command: Command): boolean {
    return Boolean(this.options(command).json);
  }

  /** Flags, then environment, then the config file. */
  config(command: Command): ResolvedConfig {
    const { url, clientId, clientSecret } = this.options(command);
    return resolveConfig({ url, clientId, clientSecret }, this.env, readConfigFile(this.configPath, (m) => this.warn(m)));
  }

  client(command: Command): GastownClient {
    const config = this.config(command);
    return new GastownClient({ baseUrl: config.url, clientId: config.clientId, clientSecret: config.clientSecret, logger: { warn: (m) => this.warn(m) } });
  }

  /** The town given, or the caller's only town. */
  async town(client: GastownClient, given: string | undefined): Promise<string> {
    if (given) return given;
    const towns = await this.wait('finding your town', client.listTowns());
    if (towns.length === 1) return towns[0]!.id;
    if (towns.length === 0) throw new UsageError('you have no town yet: gastown towns create <name>');
    throw new UsageError(`you have ${towns.length} towns; name one: ${towns.map((t) => `${t.id} (${t.name})`).join(', ')}`);
  }

  /** Awaits `work` with a spinner on stderr after a second (a TTY, and not `--json`). */
  wait<T>(label: string, work: Promise<T>): Promise<T> {
    return this.jsonOutput ? work : withProgress(label, work, this.stderr);
  }

  /** `--json`: the value on stdout; otherwise the human text. */
  print(command: Command, value: unknown, human: () => string): void {
    if (this.json(command)) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const text = human();
      if (text) this.stdout.write(`${text}\n`);
    }
  }

  warn(message: string): void {
    this.stderr.write(`gastown: ${message}\n`);
  }
}
