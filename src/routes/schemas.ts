import { z } from 'zod';
import { RUNTIME_NAMES } from '../../container/src/runtimes/types';
import { RUNTIME_CONFIG_ENV, isRuntimeConfigName, runtimeConfigProblem } from '../../container/src/runtimes/user-config';
import { AppError } from '../errors';

/** Request bodies, validated at the edge. */
const id = z.string().min(1).max(200);
const text = (max: number) => z.string().max(max);

export const CreateTownBody = z.object({ name: z.string().trim().min(1).max(100) }).strict();
export const CreateRigBody = z.object({ name: z.string().trim().min(1).max(100), gitUrl: text(2_000).optional() }).strict();
/** What an agent process can be (the contract's runtimes, as the control server defines them); an explicit `command` overrides it. */
export const Runtime = z.enum(RUNTIME_NAMES);

export const DispatchAgentBody = z
  .object({
    role: z.enum(['mayor', 'polecat', 'refinery']),
    beadId: id.optional(),
    runtime: Runtime.optional(),
    command: z.array(z.string().min(1).max(4_000)).min(1).max(64).optional(),
  })
  .strict();

/**
 * Names an agent's environment may not set: the control server's identity variables and
 * every secret of the Worker and the control server; the runtimes' own configuration
 * (RUNTIME_CONFIG_ENV) excepted.
 */
const RESERVED_ENV = /^(GASTOWN_|CONTAINER_CONTROL_SECRET$|PATH$|HOME$)/;
const isReservedEnv = (name: string) => RESERVED_ENV.test(name) && !isRuntimeConfigName(name);
/** Settings: the default runtime, and environment given to the town's agents (`null` removes a name). */
export const SettingsBody = z
  .object({
    runtime: Runtime.optional(),
    agentEnv: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment names are letters, digits and _')
          .refine((n) => !isReservedEnv(n), `GASTOWN_* (but ${RUNTIME_CONFIG_ENV.join(', ')}), CONTAINER_CONTROL_SECRET, PATH and HOME are set by Gastown`),
        z.string().max(32_768).nullable(),
      )
      .refine((env) => Object.keys(env).length <= 64, 'at most 64 names per update')
      .superRefine((env, ctx) => {
        for (const [name, value] of Object.entries(env)) {
          const problem = value !== null && isRuntimeConfigName(name) ? runtimeConfigProblem(name, value) : null;
          if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
        }
      })
      .optional(),
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
/** A batch of agent events: each is checked on its own (see `storeEvents`), so one bad event is refused alone. */
export const EventsBody = z.object({ events: z.array(z.unknown()).max(500) });

/** The container's drop reports. */
export const DropsBody = z
  .object({
    reports: z
      .array(
        z.object({
          id: id,
          agentId: id,
          kind: z.enum(['event', 'completed', 'reviewComplete']),
          cause: z.string().regex(/^[a-z_]{1,40}$/),
          count: z.number().int().min(1).max(1_000_000_000),
        }),
      )
      .max(500),
  })
  .strict();

/** `?after=&limit=` of a listing. */
export function pageQuery(query: { after?: string; limit?: string }, max: number, fallback: number) {
  const limit = query.limit === undefined ? fallback : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new AppError('bad_request', `limit must be a whole number from 1 to ${max}`);
  if (query.after !== undefined && (query.after.length < 1 || query.after.length > 200)) throw new AppError('bad_request', 'after must be an id');
  return { after: query.after, limit };
}

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
