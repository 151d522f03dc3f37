/**
 * The one definition of each Gastown tool: its name, what an agent should know to use it,
 * and its input schema. The Worker validates tool calls with these schemas, the MCP server
 * registers them, and `gt` builds its commands from them.
 */
import { z } from 'zod';

const id = z.string().min(1).max(200);
const text = (max: number) => z.string().max(max);

/**
 * A tool: what it is for, its arguments, and whether it can change the town. A tool that can
 * is called only by a live agent (the Worker) and is not advertised as read-only (MCP's
 * `readOnlyHint`), even when a given call changes nothing.
 */
export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> {
  description: string;
  input: S;
  mutates: boolean;
}

function tool<S extends z.ZodObject>(description: string, input: S, mutates: boolean): ToolDefinition<S> {
  return { description, input, mutates };
}

export const TOOL_DEFINITIONS = {
  gt_status: tool(
    'Your own status in the town: your agent id, role, status, and the bead (work item) you are assigned, if any. Cheap; call it whenever you are unsure what you are working on.',
    z.object({}).strict(),
    false,
  ),
  gt_prime: tool(
    'Everything you need to start work: your agent record, your bead (title, body, status), your rig (the repository) and the town. Call it first when you start.',
    z.object({}).strict(),
    false,
  ),
  gt_bead_create: tool(
    'File a new bead (a work item) in a rig. Give it a short title and, in body, what done looks like. It starts open; the mayor slings open beads to polecats.',
    z
      .object({
        title: z.string().trim().min(1).max(200).describe('A short, specific title'),
        body: text(20_000).optional().describe('What to do and how to tell it is done'),
        rigId: id.optional().describe('The rig (repository); default: your own rig, else the first rig of the town'),
      })
      .strict(),
    true,
  ),
  gt_sling: tool(
    'Mayor only: hand an open bead to a new polecat, which starts working on it at once. Returns the polecat id.',
    z.object({ beadId: id.describe('The open bead to hand out'), rigId: id.optional().describe("Rig to work in; default: the bead's rig") }).strict(),
    true,
  ),
  gt_done: tool(
    'Polecat: report your bead finished. It goes to the refinery for review; after this, stop working and exit.',
    z.object({ summary: text(20_000).optional().describe('What you changed and how you checked it'), beadId: id.optional().describe('Default: your assigned bead') }).strict(),
    true,
  ),
  gt_mail_send: tool(
    'Send mail to another agent: an agent id, or a role name (mayor, refinery, polecat) for that role\'s live agent.',
    z
      .object({
        to: id.describe('Agent id, or mayor / refinery / polecat'),
        subject: text(500).optional().describe('A short subject line'),
        body: z.string().min(1).max(20_000).describe('The message'),
        beadId: id.optional().describe('The bead this mail is about, if any'),
      })
      .strict(),
    true,
  ),
  gt_mail_check: tool(
    'Your unread mail. Mail stays unread until you acknowledge it: pass the ids of mail you have handled in ack (on this call or the next); mail not acknowledged is delivered again.',
    z.object({ ack: z.array(id).max(100).optional().describe('Ids of mail you have handled') }).strict(),
    // `ack` marks mail handled
    true,
  ),
  gt_review_complete: tool(
    'Refinery only: record the outcome of reviewing a done bead. merged closes it; rejected opens it again for another polecat.',
    z
      .object({
        beadId: id.describe('The bead you reviewed'),
        outcome: z.enum(['merged', 'rejected']).describe('merged: accept the work and close the bead; rejected: open it again for another polecat'),
        summary: text(20_000).optional().describe('Why, in a few sentences'),
      })
      .strict(),
    true,
  ),
} as const;

export type ToolName = keyof typeof TOOL_DEFINITIONS;
export type ToolArgs<T extends ToolName> = z.infer<(typeof TOOL_DEFINITIONS)[T]['input']>;

/** Every tool name, in definition order. */
export const TOOL_NAMES = Object.keys(TOOL_DEFINITIONS) as ToolName[];

/** True for the name of a Gastown tool. */
export function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOL_DEFINITIONS, name);
}
