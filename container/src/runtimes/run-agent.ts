/**
 * `node run-agent.ts <runtime>`: one agent of a CLI runtime as a contract agent process
 * (see runner.ts). Started by the control server in the agent's working dir with the agent
 * environment; it reads, beyond the contract's GASTOWN_* variables:
 *  - GASTOWN_BEAD_ID (optional): the bead, named in the instructions. A polecat asks
 *    gt_prime once at start for its bead's title (and the bead the Worker assigned it, which
 *    wins); when that fails, this id is named alone.
 *  - GASTOWN_AGENT_HOME (optional): the agent's home for the CLI's files; without it a
 *    private temporary dir (0700), removed at exit.
 *  - GASTOWN_REFINERY_POLL_MS (default 2000): the refinery's idle mail check.
 * Exit: the CLI's exit code (a polecat without a successful gt_done: 1); 2 for bad usage, no
 * agent environment, or files it could not write (a `bad_config` / `prepare_failed` event says why).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { callerFromEnv, optionsFromEnv } from '../../plugin/gastown-client.ts';
import { RUNTIMES, isRuntimeName } from './index.ts';
import { AgentRunner } from './runner.ts';
import type { AgentSpec, GastownEvent } from './types.ts';

const emit = (event: GastownEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);
const name = process.argv[2];
if (!isRuntimeName(name) || name === 'builtin') {
  emit({ type: 'error', code: 'usage', message: `run-agent: unknown CLI runtime ${JSON.stringify(name ?? null)}` });
  process.exit(2);
}

let options: ReturnType<typeof optionsFromEnv>;
try {
  options = optionsFromEnv();
} catch (err) {
  emit({ type: 'error', code: 'not_configured', message: (err as Error).message });
  process.exit(2);
}

const call = callerFromEnv();
const ownHome = !process.env.GASTOWN_AGENT_HOME;
const homeDir = process.env.GASTOWN_AGENT_HOME || mkdtempSync(join(tmpdir(), `gastown-home-${options.agentId.slice(0, 40)}-`));
const role = process.env.GASTOWN_ROLE ?? 'polecat';
let beadId = process.env.GASTOWN_BEAD_ID || null;
let beadTitle: string | null = null;
if (role !== 'mayor' && role !== 'refinery') {
  // the start names the bead's id at most; its title (and the assignment as it stands) is the Worker's
  try {
    const primed = (await call('gt_prime', {})) as { bead?: { id?: unknown; title?: unknown } | null } | null;
    if (typeof primed?.bead?.id === 'string') {
      beadId = primed.bead.id;
      beadTitle = typeof primed.bead.title === 'string' ? primed.bead.title : null;
    }
  } catch {
    // the instructions then name the id from the start, or tell the agent to learn its bead from gt_prime
  }
}

const agent: AgentSpec = {
  ...options,
  rigId: process.env.GASTOWN_RIG_ID || null,
  role,
  beadId,
  beadTitle,
  workDir: process.cwd(),
  homeDir,
  nodePath: process.env.GASTOWN_NODE || process.execPath,
};

const runner = new AgentRunner({
  runtime: RUNTIMES[name],
  agent,
  env: process.env,
  emit,
  call,
  mailPollMs: Number(process.env.GASTOWN_REFINERY_POLL_MS ?? 2000),
  stopGraceMs: 5_000,
});

const removeHome = () => {
  if (ownHome) rmSync(homeDir, { recursive: true, force: true });
};
// stop signals the whole process group: the CLI ends with us; only the home is ours to tidy
process.once('SIGTERM', () => {
  removeHome();
  process.exit(143);
});

createInterface({ input: process.stdin })
  .on('line', (line) => {
    try {
      const msg = JSON.parse(line) as { type?: unknown; text?: unknown };
      if (msg.type === 'message' && typeof msg.text === 'string') runner.deliver(msg.text);
    } catch {
      // not a contract message: ignored, like the built-in agent does
    }
  })
  .on('close', () => runner.closeInput());

const code = await runner.run();
removeHome();
process.stdout.write('', () => process.exit(code));
