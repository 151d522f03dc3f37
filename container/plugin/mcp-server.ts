/**
 * The Gastown MCP server: every tool of tool-definitions.ts over stdio, for any agent CLI
 * that speaks MCP (Claude Code, Codex, opencode). Each call goes through the plugin client,
 * which reads the token file before every request and heals a 401 with one shared re-mint:
 * the CLI copies this process's environment at spawn, so nothing here trusts a token from
 * env (GASTOWN_SESSION_TOKEN goes stale; GASTOWN_TOKEN_FILE does not).
 *
 * Run: `node container/plugin/mcp-server.ts` with the agent's GASTOWN_* environment.
 * Results are the Worker's JSON as text content; a failed call is an `isError` result
 * whose text is `{"error": {"status", "code", "message"}}` (never a token).
 */
import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { GastownCallError, callerFromEnv, type ToolCaller } from './gastown-client.ts';
import { TOOL_DEFINITIONS, TOOL_NAMES } from './tool-definitions.ts';

/** The server's name: MCP clients prefix its tools with it (Claude Code: `mcp__gastown__gt_status`). */
export const MCP_SERVER_NAME = 'gastown';
const VERSION = '0.1.0';

/** An MCP server exposing every Gastown tool, each call made through `call`. */
export function createGastownMcpServer(call: ToolCaller): McpServer {
  const server = new McpServer(
    { name: MCP_SERVER_NAME, version: VERSION },
    {
      capabilities: { tools: {} },
      instructions: 'Gastown town tools: your status and bead (gt_status, gt_prime), beads (gt_bead_create, gt_sling, gt_done), mail (gt_mail_send, gt_mail_check) and reviews (gt_review_complete).',
    },
  );
  for (const name of TOOL_NAMES) {
    const definition = TOOL_DEFINITIONS[name];
    server.registerTool(
      name,
      {
        description: definition.description,
        inputSchema: definition.input,
        annotations: { readOnlyHint: !definition.mutates, destructiveHint: false, openWorldHint: false },
      },
      async (args: Record<string, unknown>): Promise<CallToolResult> => {
        try {
          const result = await call(name, args);
          return { content: [{ type: 'text', text: JSON.stringify(result ?? null) }] };
        } catch (err) {
          return errorResult(err);
        }
      },
    );
  }
  return server;
}

/** A failed call as an MCP error result: status and code, never a token. */
export function errorResult(err: unknown): CallToolResult {
  const error =
    err instanceof GastownCallError
      ? { status: err.status, code: err.code, message: err.message }
      : { status: 0, code: 'error', message: err instanceof Error ? err.message : 'tool call failed' };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error }) }] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const caller = callerFromEnv();
  serveStdio(() => createGastownMcpServer(caller), {
    onerror: (err) => process.stderr.write(`gastown mcp: ${err.message}\n`),
  });
}
