/**
 * The built-in agent: deterministic, no model. It gives a local town and the tests real
 * traffic through the real plugin client. Behaviour by GASTOWN_ROLE:
 *  - mayor: replies to each message; "status" → a gt_status summary; anything else is
 *    filed as a bead and slung to a polecat.
 *  - polecat: gt_prime, GASTOWN_POLECAT_STEPS steps (each a gt_status call), gt_done, exit 0.
 *  - refinery: polls gt_mail_check; each review request becomes a review-complete line,
 *    which the control server delivers as the review callback.
 * Output is JSON lines on stdout. It exits when stdin closes (its control server is gone).
 */
import { createInterface } from 'node:readline';
import { GastownCallError, GastownClient } from '../../plugin/gastown-client.ts';

const role = process.env.GASTOWN_ROLE ?? 'polecat';
const stepMs = Number(process.env.GASTOWN_AGENT_STEP_MS ?? 1000);
const steps = Number(process.env.GASTOWN_POLECAT_STEPS ?? 3);
const pollMs = Number(process.env.GASTOWN_REFINERY_POLL_MS ?? 2000);
const client = new GastownClient();
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tool<T = any>(name: string, args: Record<string, unknown> = {}): Promise<T | null> {
  try {
    const result = await client.callTool<T>(name, args);
    say({ type: 'tool', name, ok: true });
    return result;
  } catch (err) {
    const e = err instanceof GastownCallError ? { status: err.status, code: err.code } : { status: 0, code: String((err as Error)?.message ?? err).slice(0, 200) };
    say({ type: 'error', tool: name, ...e });
    return null;
  }
}

async function mayor(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const poll = setInterval(async () => {
    const mail = await tool<{ mail: unknown[] }>('gt_mail_check');
    for (const m of mail?.mail ?? []) say({ type: 'mail', mail: m });
  }, pollMs);
  for await (const line of lines) {
    let msg: { type?: string; text?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (msg.type !== 'message' || typeof msg.text !== 'string') continue;
    const text = msg.text.trim();
    if (text === 'status') {
      const status = await tool<{ agent: { status: string } }>('gt_status');
      say({ type: 'reply', text: `mayor is ${status?.agent.status ?? 'unsure'}` });
      continue;
    }
    const created = await tool<{ bead: { id: string } }>('gt_bead_create', { title: text.slice(0, 80), body: text });
    if (!created) {
      say({ type: 'reply', text: 'could not file that' });
      continue;
    }
    const slung = await tool<{ agentId: string }>('gt_sling', { beadId: created.bead.id });
    say({ type: 'reply', text: `filed ${created.bead.id}${slung ? ` for ${slung.agentId}` : ''}`, beadId: created.bead.id });
  }
  clearInterval(poll);
}

async function polecat(): Promise<void> {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(1));
  const prime = await tool<{ bead: { id: string; title: string } | null }>('gt_prime');
  for (let n = 1; n <= steps; n++) {
    await sleep(stepMs);
    await tool('gt_status');
    say({ type: 'step', n, of: steps, beadId: prime?.bead?.id ?? null });
  }
  const done = await tool('gt_done', { summary: `worked ${steps} steps on ${prime?.bead?.title ?? 'the bead'}` });
  process.exit(done ? 0 : 1);
}

async function refinery(): Promise<void> {
  let open = true;
  process.stdin.resume();
  process.stdin.on('end', () => {
    open = false;
  });
  while (open) {
    const mail = await tool<{ mail: Array<{ beadId: string | null; subject: string | null }> }>('gt_mail_check');
    for (const m of mail?.mail ?? []) {
      if (m.beadId && m.subject === 'review') say({ type: 'review-complete', beadId: m.beadId, outcome: 'merged' });
    }
    await sleep(pollMs);
  }
}

const run = role === 'mayor' ? mayor : role === 'refinery' ? refinery : polecat;
run().then(
  () => process.exit(0),
  (err) => {
    say({ type: 'error', code: 'crash', message: String(err?.message ?? err).slice(0, 300) });
    process.exit(1);
  },
);
