/**
 * Role instructions for CLI agents, written where each CLI reads them (CLAUDE.md,
 * AGENTS.md, opencode `instructions`), and each role's first message. Tools are named
 * as the Gastown MCP server exposes them; `gt` is the same set from the shell, named only
 * to the roles that have one.
 */
import { fileURLToPath } from 'node:url';
import { GT_BIN_DIR } from './cli-bin.ts';
import { roleOf, type AgentSpec } from './types.ts';

/** The Gastown MCP server file. */
export const MCP_SERVER_FILE = fileURLToPath(new URL('../../plugin/mcp-server.ts', import.meta.url));

/** The GASTOWN_* identity the MCP server needs: never a token (it reads the token file per call). */
export function gastownIdentityEnv(agent: AgentSpec): Record<string, string> {
  return {
    GASTOWN_AGENT_ID: agent.agentId,
    GASTOWN_TOWN_ID: agent.townId,
    GASTOWN_RIG_ID: agent.rigId ?? '',
    GASTOWN_ROLE: agent.role,
    GASTOWN_API_URL: agent.apiUrl,
    GASTOWN_TOKEN_FILE: agent.tokenFile,
    GASTOWN_CONTROL_URL: agent.controlUrl,
    GASTOWN_AGENT_NONCE: agent.nonce,
  };
}

/** The Gastown MCP server as a stdio launch: the control server's Node, the server file, the identity. */
export function gastownMcpServer(agent: AgentSpec): { command: string; args: string[]; env: Record<string, string> } {
  return { command: agent.nodePath, args: [MCP_SERVER_FILE], env: gastownIdentityEnv(agent) };
}

/** Variables every CLI agent gets: its home, `gt` on PATH, the Node that runs `gt`. */
export function cliBaseEnv(agent: AgentSpec, path: string | undefined): Record<string, string> {
  return { HOME: agent.homeDir, PATH: path ? `${GT_BIN_DIR}:${path}` : GT_BIN_DIR, GASTOWN_NODE: agent.nodePath };
}

const beadName = (agent: AgentSpec) =>
  agent.beadId ? `bead ${agent.beadId}${agent.beadTitle ? ` ("${agent.beadTitle}")` : ''}` : 'the bead gt_prime names';

const TOOL_ERRORS = `Tool errors come back as JSON \`{"error": {"status", "code"}}\`: a 403 means your role may not do that; do not retry a 4xx unchanged. Your credentials refresh on their own: never look for a token.`;
/** For roles with a shell (polecat, refinery). */
const TOOLS_FOOTER = `The same tools are a shell command, \`gt\` (\`gt --help\`), if you prefer your shell. ${TOOL_ERRORS}`;
/** The mayor runs no shell in any runtime (Claude Code: no Bash allowed; Codex: read-only sandbox without network; opencode: bash denied). */
const MAYOR_FOOTER = `You work through these tools only: you run no shell commands. ${TOOL_ERRORS}`;

/** The instructions for one agent, by role. */
export function roleInstructions(agent: AgentSpec): string {
  const head = `# Gastown ${roleOf(agent)}\n\nYou are agent ${agent.agentId} in Gastown town ${agent.townId}${agent.rigId ? `, rig ${agent.rigId}` : ''}. Gastown gives you its tools through the \`gastown\` MCP server.\n`;
  switch (roleOf(agent)) {
    case 'mayor':
      return `${head}
You are the mayor: you talk to the user and run the town. Every message you receive is from the user.

- When the user asks for work, file it with **gt_bead_create** (a short title; in body, what done looks like), then hand it to a polecat with **gt_sling** (the bead id gt_bead_create returned). One bead per separate piece of work.
- **gt_status** and **gt_prime** tell you about yourself and the town; **gt_mail_check** shows mail from other agents (acknowledge what you handled with its \`ack\`); **gt_mail_send** writes to one.
- Reply to the user in plain text: short, saying what you filed and slung (bead ids, polecat ids) or answering the question. Do not do the work yourself: polecats do it.

${MAYOR_FOOTER}
`;
    case 'refinery':
      return `${head}
You are the refinery: you review finished beads.

- Call **gt_mail_check** for review requests: mail with subject \`review\` and a \`beadId\`. The messages you receive also carry new mail.
- Review the work of each bead (its summary, and the repository in your working directory when there is one), then record the outcome with **gt_review_complete** (\`merged\` closes the bead; \`rejected\` opens it again for another polecat), with a short summary of why.
- Acknowledge each mail you handled: **gt_mail_check** with \`ack\` set to its id.
- **gt_status**, **gt_prime** and **gt_mail_send** are there when you need them. End your turn when no review is left.

${TOOLS_FOOTER}
`;
    default:
      return `${head}
You are a polecat: you work one bead, ${beadName(agent)}, in your working directory, and then you are done.

1. Call **gt_prime** first: it gives your bead (title, body), rig and town.
2. Do the work in your working directory. **gt_status** reminds you of your bead; **gt_mail_send** asks the mayor (\`to: "mayor"\`) if you are stuck; **gt_bead_create** files follow-up work you find but should not do now.
3. When the bead is done and checked, call **gt_done** with a summary of what you changed and how you checked it. Then stop: end your turn.

${TOOLS_FOOTER}
`;
  }
}

/** The first message of an agent that starts on its own (polecat, refinery); the mayor waits for the user. */
export function initialMessage(agent: AgentSpec): string | null {
  switch (roleOf(agent)) {
    case 'mayor':
      return null;
    case 'refinery':
      return 'Check your mail for review requests (gt_mail_check) and review each one.';
    default:
      return `Work on ${beadName(agent)}: call gt_prime first, do the work, then gt_done.`;
  }
}

/** The message that wakes the refinery when review mail arrives: the mail itself, so nothing depends on a second read. */
export function mailMessage(mail: Array<{ id: string; from?: string; subject?: string | null; body?: string; beadId?: string | null }>): string {
  const lines = mail.map((m) => `- ${m.id} from ${m.from ?? '?'}${m.subject ? `, subject "${m.subject}"` : ''}${m.beadId ? `, bead ${m.beadId}` : ''}: ${m.body ?? ''}`);
  return `New mail:\n${lines.join('\n')}\nHandle each one (reviews: gt_review_complete), then acknowledge them with gt_mail_check and ack.`;
}
