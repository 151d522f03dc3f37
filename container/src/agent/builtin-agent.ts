/**
 * The built-in agent: deterministic, no model. It gives a local town and the tests real
 * traffic through the real plugin client. Behaviour by GASTOWN_ROLE:
 *  - mayor: replies to each message; "status" → a gt_status summary; anything else is
 *    filed as a bead and slung to a polecat. Polls gt_mail_check and reports each mail.
 *    Mail is handled once per id (the Worker delivers it again until acknowledged) and
 *    acknowledged with `ack` on the next gt_mail_check.
 *  - polecat: gt_prime, GASTOWN_POLECAT_STEPS steps (each a gt_status call), gt_done, exit 0.
 *  - refinery: polls gt_mail_check; each review request becomes a review-complete line,
 *    which the control server delivers as the review callback.
 * Output is JSON lines on stdout. It exits when stdin closes (its control server is gone),
 * and after MAX_FATAL_IN_A_ROW tool calls in a row refused with 401/403 (its tokens are
 * revoked or it is not who the Worker expects).
 */
import { createInterface } from 'node:readline';
import { GastownCallError, createGastownClient } from '../../plugin/gastown-client.ts';

const MAX_FATAL_IN_A_ROW = 5;
/** Most ids one gt_mail_check acknowledges (its schema's bound). */
const MAX_ACK = 100;
/** Mail ids remembered as handled: a redelivery of any of them is not handled again. */
const REMEMBERED_MAIL = 10_000;

const role = process.env.GASTOWN_ROLE ?? 'polecat';
const stepMs = Number(process.env.GASTOWN_AGENT_STEP_MS ?? 1000);
const steps = Number(process.env.GASTOWN_POLECAT_STEPS ?? 3);
const pollMs = Number(process.env.GASTOWN_REFINERY_POLL_MS ?? 2000);
const client = createGastownClient();
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let fatalInARow = 0;
let stdinOpen = true;

interface Mail {
  id: string;
  from: string;
  subject: string | null;
  body: string;
  beadId: string | null;
}

async function tool<T = unknown>(name: string, args: Record<string, unknown> = {}): Promise<T | null> {
  try {
    const result = await client.callTool<T>(name, args);
    fatalInARow = 0;
    say({ type: 'tool', name, ok: true });
    return result;
  } catch (err) {
    const e = err instanceof GastownCallError ? { status: err.status, code: err.code } : { status: 0, code: 'error' };
    say({ type: 'error', tool: name, ...e });
    if (e.status === 401 || e.status === 403) {
      if (++fatalInARow >= MAX_FATAL_IN_A_ROW) {
        say({ type: 'error', code: 'giving_up', message: `${fatalInARow} calls in a row refused` });
        process.exit(1);
      }
    } else {
      fatalInARow = 0;
    }
    return null;
  }
}

/** Ids handled (oldest first), and those not yet acknowledged to the Worker. */
const handledMail = new Set<string>();
const unacked = new Set<string>();

/**
 * Polls the mailbox until stdin closes, one poll at a time. Each mail is handled once
 * (redeliveries of an id already handled are skipped) and acknowledged on the next poll;
 * a poll that fails acknowledges the same ids again on the one after.
 */
async function pollMail(onMail: (mail: Mail) => void): Promise<void> {
  while (stdinOpen) {
    const ack = [...unacked].slice(0, MAX_ACK);
    const result = await tool<{ mail: Mail[] }>('gt_mail_check', ack.length > 0 ? { ack } : {});
    if (result) for (const id of ack) unacked.delete(id);
    for (const mail of result?.mail ?? []) {
      if (typeof mail?.id !== 'string') continue;
      if (!handledMail.has(mail.id)) {
        handledMail.add(mail.id);
        if (handledMail.size > REMEMBERED_MAIL) handledMail.delete(handledMail.values().next().value!);
        onMail(mail);
      }
      unacked.add(mail.id);
    }
    await sleep(pollMs);
  }
}

async function mayor(): Promise<void> {
  void pollMail((mail) => say({ type: 'mail', mail }));
  for await (const line of createInterface({ input: process.stdin })) {
    let msg: { type?: string; text?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (msg.type !== 'message' || typeof msg.text !== 'string') continue;
    const text = msg.text.trim();
    if (text === 'status') {
      const status = await tool<{ agent?: { status?: string }; bead?: { id?: string } | null }>('gt_status');
      const summary = status ? `mayor is ${status.agent?.status ?? 'running'}${status.bead?.id ? ` on ${status.bead.id}` : ''}` : 'status unavailable';
      say({ type: 'reply', text: summary });
      continue;
    }
    const created = await tool<{ bead: { id: string } }>('gt_bead_create', { title: text.slice(0, 80), body: text });
    if (!created?.bead?.id) {
      say({ type: 'reply', text: 'could not file that' });
      continue;
    }
    const slung = await tool<{ agentId?: string }>('gt_sling', { beadId: created.bead.id });
    say({ type: 'reply', text: `filed ${created.bead.id}${slung?.agentId ? ` for ${slung.agentId}` : ''}`, beadId: created.bead.id });
  }
}

async function polecat(): Promise<void> {
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
  await pollMail((mail) => {
    if (mail.beadId && mail.subject === 'review') say({ type: 'review-complete', beadId: mail.beadId, outcome: 'merged' });
  });
}

process.stdin.on('end', () => {
  stdinOpen = false;
  // a polecat mid-work whose control server is gone has nobody to report to
  if (role !== 'mayor' && role !== 'refinery') process.exit(1);
});
if (role !== 'mayor') process.stdin.resume();

const run = role === 'mayor' ? mayor : role === 'refinery' ? refinery : polecat;
run().then(
  () => process.exit(0),
  (err) => {
    say({ type: 'error', code: 'crash', message: String((err as Error)?.message ?? err).slice(0, 300) });
    process.exit(1);
  },
);
