/**
 * Scripts for the scripted model: one step per model response within a user turn. A tool
 * step names a Gastown tool; its input may be computed from the user's text and the tool
 * results so far (the Worker JSON the MCP server returned as text).
 */

/** What a step sees. */
export interface StepContext {
  /** Assistant responses already given in this turn. */
  step: number;
  userText: string;
  /** Tool results of this turn, in order. */
  results: Array<{ id: string; text: string; isError: boolean }>;
  /** Tool names the client offered. */
  tools: string[];
}

type Computed<T> = T | ((ctx: StepContext) => T);

/** One response: call a tool (a text may precede it), or answer with text (ending the turn). */
export type Step =
  | { tool: string; input?: Computed<Record<string, unknown>>; say?: string }
  | { text: Computed<string> };

/** A script: its steps, each fixed or chosen from the context. */
export type Script = Array<Computed<Step>>;

/** What the model answered: a tool use (by the client's name for the tool) or text. */
export type Reply = { tool: string; input: Record<string, unknown>; say?: string } | { text: string };

const compute = <T,>(value: Computed<T>, ctx: StepContext): T => (typeof value === 'function' ? (value as (c: StepContext) => T)(ctx) : value);

/** The reply for this point of the conversation; past the script's end, `Done.` */
export function scriptedReply(script: Script, ctx: StepContext): Reply {
  const entry = script[ctx.step];
  if (!entry) return { text: 'Done.' };
  const step = compute(entry, ctx);
  if ('text' in step) return { text: compute(step.text, ctx) };
  const name = ctx.tools.find((t) => t === step.tool || [`__${step.tool}`, `_${step.tool}`, `.${step.tool}`].some((end) => t.endsWith(end)));
  if (!name) return { text: `The tool ${step.tool} is not offered to me.` };
  return { tool: name, input: compute(step.input ?? {}, ctx), ...(step.say ? { say: step.say } : {}) };
}

/** A tool result's JSON: the text, or what follows a client's preamble (Codex: `Wall time: …\nOutput:{…}`); null when none. */
export function resultJson<T = Record<string, unknown>>(text: string | undefined): T | null {
  if (!text) return null;
  const start = text.indexOf('{');
  try {
    return start >= 0 ? (JSON.parse(text.slice(start)) as T) : null;
  } catch {
    return null;
  }
}

/** The last tool result of this turn as JSON. */
export function lastResult<T = Record<string, unknown>>(ctx: StepContext): T | null {
  return resultJson<T>(ctx.results.at(-1)?.text);
}

/** The mayor: files the user's message as a bead, slings it, replies in plain text. */
export const MAYOR_SCRIPT: Script = [
  { tool: 'gt_bead_create', input: (ctx) => ({ title: ctx.userText.trim().slice(0, 80), body: ctx.userText }), say: 'Filing that as a bead.' },
  { tool: 'gt_sling', input: (ctx) => ({ beadId: lastResult<{ bead: { id: string } }>(ctx)?.bead.id ?? 'unknown' }) },
  {
    text: (ctx) => {
      const slung = lastResult<{ bead: { id: string }; agentId: string }>(ctx);
      return slung ? `Filed ${slung.bead.id} and handed it to ${slung.agentId}.` : 'I could not hand that out.';
    },
  },
];

/**
 * A polecat: primes, does `work` (steps with its CLI's own tools, which differ from CLI to
 * CLI: Claude Code's `Bash` and `Write`, opencode's `bash`, ...), reports done with a summary
 * naming its bead, ends its turn.
 */
export function polecatScript(work: Script = []): Script {
  return [
    { tool: 'gt_prime' },
    ...work,
    { tool: 'gt_done', input: (ctx) => ({ summary: `worked on ${resultJson<{ bead: { id: string } | null }>(ctx.results[0]?.text)?.bead?.id ?? 'my bead'}` }) },
    { text: 'Done: reported my bead finished.' },
  ];
}

/** A polecat that only primes and reports done: the Gastown side of a polecat, for any CLI. */
export const POLECAT_SCRIPT: Script = polecatScript();

/** Review requests in the mail this turn saw: from gt_mail_check results, or in the message that carried the mail. */
function reviewRequests(ctx: StepContext): Array<{ id: string; beadId: string }> {
  const fromTool = (resultJson<{ mail?: Array<{ id: string; beadId: string | null }> }>(ctx.results[0]?.text)?.mail ?? []).filter((m) => m.beadId) as Array<{ id: string; beadId: string }>;
  const fromMessage = [...ctx.userText.matchAll(/^- (\S+) from .*?, bead (\S+):/gm)].map((m) => ({ id: m[1]!, beadId: m[2]! }));
  return [...fromTool, ...fromMessage];
}

/** The refinery: checks mail, merges the bead of the first review request, acknowledges the mail. */
export const REFINERY_SCRIPT: Script = [
  { tool: 'gt_mail_check' },
  (ctx) => {
    const review = reviewRequests(ctx)[0];
    return review ? { tool: 'gt_review_complete', input: { beadId: review.beadId, outcome: 'merged', summary: 'looks right' } } : { text: 'No review requests.' };
  },
  (ctx) => ({ tool: 'gt_mail_check', input: { ack: [...new Set(reviewRequests(ctx).map((m) => m.id))] } }),
  { text: 'Reviewed and merged.' },
];
