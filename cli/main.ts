/**
 * `gastown` entry (run by cli/gastown.mjs): parses, runs one command, and exits 0 (ok),
 * 1 (failure) or 2 (usage). With `--json`, a failure is also `{"error": {...}}` on stdout.
 */
import { CommanderError } from 'commander';
import { CliContext } from './context.ts';
import { errorJson, errorLine, exitCodeFor } from './errors.ts';
import { createProgram } from './program.ts';

const cli = new CliContext();
let code = 0;
try {
  await createProgram(cli).parseAsync(process.argv);
} catch (err) {
  code = exitCodeFor(err);
  // commander printed its own message (usage errors, help)
  if (!(err instanceof CommanderError)) cli.stderr.write(`${errorLine(err)}\n`);
  const helpOrVersion = err instanceof CommanderError && code === 0;
  if (!helpOrVersion && process.argv.includes('--json')) cli.stdout.write(`${JSON.stringify(errorJson(err))}\n`);
}
// Let stdout drain (a pipe may be slow), then exit without waiting for idle keep-alive sockets.
cli.stdout.write('', () => process.exit(code));
