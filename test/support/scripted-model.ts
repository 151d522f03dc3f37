/**
 * A scripted model: a local HTTP server answering the Anthropic Messages API
 * (`POST /v1/messages`, streaming SSE or JSON) and the OpenAI Responses API
 * (`POST /v1/responses`, streaming SSE) from a script, so real agent CLIs (Claude Code,
 * opencode's anthropic provider, Codex) run offline. The conversation state comes from the
 * request alone: the turn starts at the last user message with text, and the number of
 * assistant messages since then picks the script's step. Tool steps name a Gastown tool
 * (`gt_sling`); the model uses whatever name the client offers for it
 * (`mcp__gastown__gt_sling`, `gastown_gt_sling`). Every request is recorded, with the
 * tool results it carried and whether each answered a tool_use id this model issued.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answerResponses, type ResponsesRequest } from './scripted-model-responses.ts';
import { scriptedReply, type Reply, type Script } from './scripted-model-script.ts';

export * from './scripted-model-script.ts';

interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}
interface Message {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}
/** The part of a Messages API request the model reads. */
export interface MessagesRequest {
  model?: string;
  stream?: boolean;
  system?: unknown;
  tools?: Array<{ name: string }>;
  messages: Message[];
}

/** One request the model answered. */
export interface RecordedRequest {
  path: string;
  /** A request offering no tools (titles, summaries): answered with a short text, not the script. */
  side: boolean;
  /** Tool names offered. */
  tools: string[];
  /** The user text that started the current turn. */
  userText: string;
  /** Tool results in the last message: id, text, error flag, and whether this model issued that id. */
  toolResults: Array<{ id: string; text: string; isError: boolean; known: boolean }>;
  /** What the model answered. */
  reply: Reply;
  system: string;
  /** Messages (or input items) the request carried: the whole conversation so far. */
  messages: number;
  /** The request body as sent (instructions may arrive in the system prompt or in context messages). */
  raw: string;
}

/** A running scripted model. */
export interface ScriptedModel {
  url: string;
  requests: RecordedRequest[];
  /** Tool uses answered with a result this model never issued (should stay 0). */
  unknownToolResults: number;
  close(): Promise<void>;
}

/** Starts a scripted model on a loopback port; `script` may depend on the request (e.g. the role in its system prompt). */
export async function startScriptedModel(script: Script | ((req: { system: string }) => Script)): Promise<ScriptedModel> {
  const issued = new Map<string, string>();
  const state = { requests: [] as RecordedRequest[], unknownToolResults: 0 };
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method === 'POST' && path.endsWith('/messages/count_tokens')) return json(res, 200, { input_tokens: 100 });
    const pick = (system: string) => (typeof script === 'function' ? script({ system }) : script);
    if (req.method === 'POST' && path.endsWith('/responses')) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ResponsesRequest;
      const system = (body.input ?? []).filter((i) => i.role === 'developer' || i.role === 'user').map((i) => JSON.stringify(i.content)).join('\n');
      const { reply, callId, turn } = answerResponses(res, body, pick(system));
      const toolResults = turn.lastResults.map((r) => ({ ...r, known: issued.has(r.id) }));
      state.unknownToolResults += toolResults.filter((r) => !r.known).length;
      if (callId) issued.set(callId, 'tool' in reply ? reply.tool : '');
      state.requests.push({ path, side: turn.tools.length === 0, tools: turn.tools, userText: turn.userText, toolResults, reply, system, messages: body.input?.length ?? 0, raw: Buffer.concat(chunks).toString('utf8') });
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/messages')) return json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `${req.method} ${path}` } });
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as MessagesRequest;
    const tools = (body.tools ?? []).map((t) => t.name).filter(Boolean);
    const turn = currentTurn(body.messages);
    const toolResults = turn.lastResults.map((r) => ({ ...r, known: issued.has(r.id) }));
    state.unknownToolResults += toolResults.filter((r) => !r.known).length;
    const side = tools.length === 0;
    const reply: Reply = side
      ? { text: 'Gastown session' }
      : scriptedReply(pick(systemText(body.system)), { step: turn.assistantTurns, userText: turn.userText, results: turn.results, tools });
    let toolUse: { id: string; name: string; input: Record<string, unknown> } | null = null;
    if ('tool' in reply) {
      toolUse = { id: `toolu_${randomBytes(12).toString('hex')}`, name: reply.tool, input: reply.input };
      issued.set(toolUse.id, reply.tool);
    }
    state.requests.push({ path, side, tools, userText: turn.userText, toolResults, reply, system: systemText(body.system), messages: body.messages.length, raw: Buffer.concat(chunks).toString('utf8') });
    const content: ContentBlock[] = toolUse ? [{ type: 'tool_use', ...toolUse }] : [{ type: 'text', text: 'text' in reply ? reply.text : '' }];
    if (toolUse && 'say' in reply && reply.say) content.unshift({ type: 'text', text: reply.say });
    const message = {
      id: `msg_${randomBytes(12).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model: body.model ?? 'scripted',
      stop_reason: toolUse ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    };
    if (!body.stream) return json(res, 200, { ...message, content });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const sse = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    sse('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } } });
    content.forEach((block, index) => {
      if (block.type === 'text') {
        sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
      } else {
        sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      sse('content_block_stop', { type: 'content_block_stop', index });
    });
    sse('message_delta', { type: 'message_delta', delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: 20 } });
    sse('message_stop', { type: 'message_stop' });
    res.end();
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function blocks(m: Message): ContentBlock[] {
  return typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c: ContentBlock) => c.text ?? '').join('');
  return '';
}

/** Where the conversation stands: the user text that opened this turn, and what the tools answered since. */
function currentTurn(messages: Message[]) {
  let start = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user' && blocks(m).some((b) => b.type === 'text' && !isReminder(b.text ?? ''))) {
      start = i;
      break;
    }
  }
  const opening = blocks(messages[start] ?? { role: 'user', content: '' });
  const userText = opening.filter((b) => b.type === 'text' && !isReminder(b.text ?? '')).map((b) => b.text).join('\n');
  const after = messages.slice(start + 1);
  const collect = (ms: Message[]) =>
    ms.flatMap((m) => blocks(m).filter((b) => b.type === 'tool_result').map((b) => ({ id: b.tool_use_id ?? '', text: resultText(b.content), isError: b.is_error === true })));
  const last = messages.at(-1);
  return {
    userText,
    assistantTurns: after.filter((m) => m.role === 'assistant').length,
    results: collect(after),
    lastResults: last && last.role === 'user' && messages.length - 1 > start ? collect([last]) : [],
  };
}

/** Client-added context blocks (Claude Code's `<system-reminder>`) are not the user's words. */
function isReminder(text: string): boolean {
  return text.trimStart().startsWith('<system-reminder>');
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (Array.isArray(system)) return system.map((b: ContentBlock) => b.text ?? '').join('\n');
  return '';
}
