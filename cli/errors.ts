import { CommanderError } from 'commander';
import { GastownError } from '../sdk/index.ts';

/** Exit codes: 0 ok, 1 failure, 2 usage. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad or missing input from the user (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command that ran and failed for a reason that is not an HTTP error (exit 1). */
export class CliFailure extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliFailure';
    this.code = code;
  }
}

/** The exit code for anything a command threw. Commander's usage errors are 2, its help 0. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return EXIT.usage;
  }
  if (err instanceof UsageError) return EXIT.usage;
  return EXIT.failure;
}

/** `{error: {code, message, status?}}` for `--json`; never a token or a secret (messages are redacted by the SDK). */
export function errorJson(err: unknown): { error: { code: string; message: string; status?: number } } {
  if (err instanceof GastownError) return { error: { code: err.code, message: err.message, status: err.status } };
  if (err instanceof UsageError || err instanceof CommanderError) return { error: { code: 'usage', message: err.message.replace(/^error: /, '') } };
  if (err instanceof CliFailure) return { error: { code: err.code, message: err.message } };
  return { error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
}

/** One line for stderr. */
export function errorLine(err: unknown): string {
  if (err instanceof GastownError) return `gastown: ${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ''})`;
  return `gastown: ${err instanceof Error ? err.message : String(err)}`;
}
