/**
 * `gt`: the Gastown tools as shell commands, for agents that prefer their shell to MCP.
 * Each command is one tool of tool-definitions.ts (its help is the tool's description, its
 * options the schema's fields), called through the plugin client: the token file is read
 * before every call and a 401 is healed by one re-mint.
 *
 *   gt status | gt prime
 *   gt bead create --title T [--body B] [--rig R]
 *   gt sling <beadId> [--rig R]
 *   gt done [--summary S] [--bead B]
 *   gt mail send --to A --body B [--subject S] [--bead B]
 *   gt mail check [--ack <id>...]
 *   gt review <beadId> merged|rejected [--summary S]
 *
 * `--json` prints the Worker's JSON (or `{"error": {...}}`) on stdout. Exit codes: GT_EXIT.
 */
import { Argument, Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { GastownCallError, callerFromEnv, type ToolCaller } from './gastown-client.ts';
import { formatResult } from './gt-format.ts';
import { TOOL_DEFINITIONS, type ToolName } from './tool-definitions.ts';

/** What `gt` exits with. */
export const GT_EXIT = {
  /** The call succeeded. */
  ok: 0,
  /** The Worker refused the call (bad request, not found, conflict, forbidden for this role, 5xx...). */
  refused: 1,
  /** Bad usage: unknown command, missing or invalid arguments (nothing was sent). */
  usage: 2,
  /** Not authorised even after re-reading the token file and one re-mint (401; or no token file). */
  unauthorized: 3,
  /** The Worker could not be reached (network error or timeout). */
  unreachable: 4,
  /** Not an agent environment: a GASTOWN_* variable is missing. */
  notConfigured: 5,
} as const;

/** One `gt` command: its words, its tool, and which schema fields are positional. */
interface GtCommand {
  words: string[];
  tool: ToolName;
  positional?: string[];
}

/** The commands, each a tool; everything else about them comes from the tool definitions. */
export const GT_COMMANDS: readonly GtCommand[] = [
  { words: ['status'], tool: 'gt_status' },
  { words: ['prime'], tool: 'gt_prime' },
  { words: ['bead', 'create'], tool: 'gt_bead_create' },
  { words: ['sling'], tool: 'gt_sling', positional: ['beadId'] },
  { words: ['done'], tool: 'gt_done' },
  { words: ['mail', 'send'], tool: 'gt_mail_send' },
  { words: ['mail', 'check'], tool: 'gt_mail_check' },
  { words: ['review'], tool: 'gt_review_complete', positional: ['beadId', 'outcome'] },
];

const GROUPS: Record<string, string> = { bead: 'Work items (beads)', mail: 'Mail between agents' };

interface FieldSchema {
  type?: string;
  description?: string;
  enum?: string[];
}

/** `rigId` → `rig`, `beadId` → `bead`, `camelCase` → `camel-case`. */
function flagOf(field: string): string {
  return field.replace(/Id$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Where output goes, and how a call is made (the plugin client by default). */
export interface GtIo {
  out(text: string): void;
  err(text: string): void;
  call: ToolCaller;
}

/** Runs `gt` with `argv` (without node and script); resolves to its exit code. */
export async function runGt(argv: string[], io: GtIo): Promise<number> {
  const json = argv.includes('--json');
  let exit: number = GT_EXIT.ok;
  const fail = (code: number, error: { status?: number; code: string; message: string }) => {
    if (json) io.out(JSON.stringify({ error }));
    else io.err(`gt: ${error.message}`);
    exit = code;
  };
  const program = new Command('gt')
    .description('Gastown tools for agents: your status, beads, mail and reviews.')
    .option('--json', "print the Worker's JSON result")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => (json ? undefined : io.err(s.trimEnd())) });
  const groups = new Map<string, Command>();
  for (const spec of GT_COMMANDS) {
    const definition = TOOL_DEFINITIONS[spec.tool];
    const schema = z.toJSONSchema(definition.input, { io: 'input' }) as { properties?: Record<string, FieldSchema>; required?: string[] };
    const properties = schema.properties ?? {};
    const required = new Set(schema.required ?? []);
    let parent = program;
    for (const word of spec.words.slice(0, -1)) {
      if (!groups.has(word)) groups.set(word, program.command(word).description(GROUPS[word] ?? word));
      parent = groups.get(word)!;
    }
    const command = parent.command(spec.words.at(-1)!).description(definition.description);
    const positional = spec.positional ?? [];
    for (const field of positional) {
      const p = properties[field]!;
      const argument = new Argument(required.has(field) ? `<${field}>` : `[${field}]`, p.description);
      command.addArgument(p.enum ? argument.choices(p.enum) : argument);
    }
    for (const [field, p] of Object.entries(properties)) {
      if (positional.includes(field)) continue;
      const flags = p.type === 'array' ? `--${flagOf(field)} <${field}...>` : `--${flagOf(field)} <${field}>`;
      if (required.has(field)) command.requiredOption(flags, p.description);
      else command.option(flags, p.description);
    }
    command.action(async (...params: unknown[]) => {
      const options = params[positional.length] as Record<string, unknown>;
      const args: Record<string, unknown> = {};
      positional.forEach((field, i) => {
        if (params[i] !== undefined) args[field] = params[i];
      });
      for (const field of Object.keys(properties)) {
        const value = options[field.replace(/Id$/, '')] ?? options[field];
        if (value !== undefined && !positional.includes(field)) args[field] = value;
      }
      const parsed = definition.input.safeParse(args);
      if (!parsed.success) return fail(GT_EXIT.usage, { code: 'usage', message: z.prettifyError(parsed.error).replace(/\n/g, ' ') });
      try {
        const result = await io.call(spec.tool, parsed.data as Record<string, unknown>);
        io.out(json ? JSON.stringify(result) : formatResult(spec.tool, result));
      } catch (err) {
        if (!(err instanceof GastownCallError)) throw err;
        const code = err.code === 'not_configured' ? GT_EXIT.notConfigured
          : err.status === 401 || err.code === 'no_token_file' ? GT_EXIT.unauthorized
          : err.status === 0 ? GT_EXIT.unreachable
          : GT_EXIT.refused;
        fail(code, { status: err.status, code: err.code, message: err.code === 'not_configured' ? err.message : `${spec.tool} failed: ${err.status} ${err.code}` });
      }
    });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return GT_EXIT.ok; // --help, --version
    if (json) io.out(JSON.stringify({ error: { code: 'usage', message: err.message.replace(/^error: /, '') } }));
    return GT_EXIT.usage;
  }
  return exit;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const code = await runGt(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    call: callerFromEnv(),
  });
  process.exitCode = code;
}
