/**
 * The scripted model's OpenAI Responses API (`POST /v1/responses`, streaming SSE), as Codex
 * speaks it: the whole conversation is sent each time (`store: false`), tools may come in
 * namespaces (an MCP server's tools under `mcp__<server>`), a tool call is a
 * `function_call` item and its answer a `function_call_output` item in the next request.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { scriptedReply, type Reply, type Script } from './scripted-model-script.ts';

interface Item {
  type?: string;
  role?: string;
  content?: unknown;
  name?: string;
  namespace?: string;
  call_id?: string;
  output?: unknown;
}
interface Tool {
  type?: string;
  name?: string;
  tools?: Tool[];
}
/** The part of a Responses request the model reads. */
export interface ResponsesRequest {
  model?: string;
  input?: Item[];
  tools?: Tool[];
  instructions?: string;
}

/** Tool names offered, namespaced ones as `namespace.name`. */
function toolNames(tools: Tool[] = []): string[] {
  return tools.flatMap((t) => (t.type === 'namespace' ? (t.tools ?? []).map((f) => `${t.name}.${f.name}`) : t.name ? [t.name] : []));
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c: { text?: string }) => c.text ?? '').join('');
  return '';
}

/** The user's words, not the context Codex adds as user messages (AGENTS.md, environment). */
const isContext = (text: string) => /^\s*(# AGENTS\.md instructions|<environment_context>|<user_instructions>)/.test(text);

/** Where the conversation stands, from the items alone. */
export function responsesTurn(req: ResponsesRequest) {
  const input = req.input ?? [];
  let start = -1;
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i]!;
    if (item.type === 'message' && item.role === 'user' && !isContext(textOf(item.content))) {
      start = i;
      break;
    }
  }
  const after = input.slice(start + 1);
  const results = after.filter((i) => i.type === 'function_call_output').map((i) => ({ id: i.call_id ?? '', text: textOf(i.output), isError: false }));
  const lastCall = [...after].reverse().findIndex((i) => i.type === 'function_call' || (i.type === 'message' && i.role === 'assistant'));
  return {
    userText: start >= 0 ? textOf(input[start]!.content) : '',
    step: after.filter((i) => i.type === 'function_call' || (i.type === 'message' && i.role === 'assistant')).length,
    results,
    lastResults: lastCall > 0 ? results.slice(-lastCall) : [],
    tools: toolNames(req.tools),
  };
}

/** Answers one Responses request from `script`; returns the reply and the call id issued, if any. */
export function answerResponses(res: ServerResponse, req: ResponsesRequest, script: Script): { reply: Reply; callId: string | null; turn: ReturnType<typeof responsesTurn> } {
  const turn = responsesTurn(req);
  const reply = scriptedReply(script, { step: turn.step, userText: turn.userText, results: turn.results, tools: turn.tools });
  const id = `resp_${randomBytes(10).toString('hex')}`;
  let item: Record<string, unknown>;
  let callId: string | null = null;
  if ('tool' in reply) {
    callId = `call_${randomBytes(10).toString('hex')}`;
    const [namespace, name] = reply.tool.includes('.') ? reply.tool.split('.') : [undefined, reply.tool];
    item = { type: 'function_call', id: `fc_${randomBytes(10).toString('hex')}`, call_id: callId, name, ...(namespace ? { namespace } : {}), arguments: JSON.stringify(reply.input) };
  } else {
    item = { type: 'message', id: `msg_${randomBytes(10).toString('hex')}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: reply.text, annotations: [] }] };
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const sse = (data: Record<string, unknown>) => res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
  sse({ type: 'response.created', response: { id, status: 'in_progress', model: req.model ?? 'scripted' } });
  sse({ type: 'response.output_item.added', output_index: 0, item: { ...item, ...(item.type === 'message' ? { content: [] } : { arguments: '' }) } });
  if (item.type === 'message') sse({ type: 'response.output_text.delta', item_id: item.id, output_index: 0, content_index: 0, delta: 'text' in reply ? reply.text : '' });
  sse({ type: 'response.output_item.done', output_index: 0, item });
  sse({
    type: 'response.completed',
    response: { id, status: 'completed', model: req.model ?? 'scripted', usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 0 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 120 } },
  });
  res.end();
  return { reply, callId, turn };
}
