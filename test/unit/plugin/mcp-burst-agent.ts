/**
 * An agent command for tests: started by the real control server with the agent
 * environment, it runs the real Gastown MCP server as an agent CLI would (the official MCP
 * client over stdio, the environment copied at spawn, without the start token) and prints
 * `{type: "ready"}`. Each message it then receives is a number n: it makes n concurrent
 * gt_status calls and prints `{type: "burst", errors, outputs}` (one entry per call).
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createInterface } from 'node:readline';
import { MCP_SERVER_FILE } from '../../../container/src/runtimes/instructions.ts';

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'GASTOWN_SESSION_TOKEN'));
const client = new Client({ name: 'burst-agent', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_SERVER_FILE], env, stderr: 'inherit' }));
emit({ type: 'ready', tools: (await client.listTools()).tools.length });

for await (const line of createInterface({ input: process.stdin })) {
  const n = Number((JSON.parse(line) as { text?: string }).text);
  const results = await Promise.all(Array.from({ length: n }, () => client.callTool({ name: 'gt_status', arguments: {} })));
  emit({ type: 'burst', errors: results.map((r) => r.isError === true), outputs: results.map((r) => (r.content as Array<{ text?: string }>)[0]?.text ?? '') });
}
await client.close();
