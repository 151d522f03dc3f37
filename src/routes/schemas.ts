import { z } from 'zod';

/** Request bodies, validated at the edge. */
const id = z.string().min(1).max(200);
const text = (max: number) => z.string().max(max);

export const CreateTownBody = z.object({ name: z.string().trim().min(1).max(100) }).strict();
export const CreateRigBody = z.object({ name: z.string().trim().min(1).max(100), gitUrl: text(2_000).optional() }).strict();
export const DispatchAgentBody = z
  .object({
    role: z.enum(['mayor', 'polecat', 'refinery']),
    beadId: id.optional(),
    command: z.array(z.string().min(1).max(4_000)).min(1).max(64).optional(),
  })
  .strict();
export const MayorMessageBody = z.object({ text: z.string().min(1).max(20_000) }).strict();

/**
 * A heartbeat is liveness first: any status word keeps the agent alive. `idle` records the
 * agent as idle; any other word (`working`, `busy`, ...) as working.
 */
export const HeartbeatBody = z.object({
  status: z.string().max(100).transform((s): 'working' | 'idle' => (s.trim().toLowerCase() === 'idle' ? 'idle' : 'working')).optional(),
  detail: text(2_000).optional(),
});
/** An agent event: `id` makes storage idempotent; `type` defaults to `output`, as for a plain stdout line. */
export const AgentEvent = z.object({ id: id, type: z.string().min(1).max(100).default('output') }).passthrough();
export const EventsBody = z.object({ events: z.array(AgentEvent).max(500) });

const SUCCESS_WORDS = ['completed', 'complete', 'done', 'success', 'succeeded', 'ok'];
const FAILURE_WORDS = ['failed', 'failure', 'error', 'errored', 'cancelled', 'canceled', 'aborted'];
/** A completion report: `completed` or `failed`, or a common synonym of either (`done`, `success`; `error`, `aborted`, ...). */
export const CompletedBody = z.object({
  status: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .refine((s) => SUCCESS_WORDS.includes(s) || FAILURE_WORDS.includes(s), { message: `status must be one of ${[...SUCCESS_WORDS, ...FAILURE_WORDS].join(', ')}` })
    .transform((s): 'completed' | 'failed' => (SUCCESS_WORDS.includes(s) ? 'completed' : 'failed')),
  summary: text(20_000).optional(),
});
export const ReviewCompleteBody = z.object({ beadId: id, outcome: z.enum(['merged', 'rejected']) });

export { isToolName, TOOL_DEFINITIONS, type ToolArgs, type ToolName } from '../../container/plugin/tool-definitions';
