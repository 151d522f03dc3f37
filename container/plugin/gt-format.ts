/**
 * `gt`'s text output: a few lines a person (or a model reading its shell) can scan. Fields
 * the Worker adds later still show through the JSON fallback of `--json`.
 */
import type { ToolName } from './tool-definitions.ts';

interface Bead {
  id?: string;
  title?: string;
  status?: string;
  assignee?: string | null;
  body?: string | null;
}
interface Agent {
  id?: string;
  role?: string;
  status?: string;
}
interface Mail {
  id?: string;
  from?: string;
  subject?: string | null;
  body?: string;
  beadId?: string | null;
}
type Result = {
  agent?: Agent;
  bead?: Bead | null;
  rig?: { id?: string; name?: string; gitUrl?: string | null } | null;
  town?: { id?: string; name?: string };
  agentId?: string;
  mailId?: string;
  to?: string;
  mail?: Mail[];
  duplicate?: boolean;
};

const beadLine = (bead: Bead | null | undefined) =>
  bead ? `bead ${bead.id}: ${bead.title ?? ''} [${bead.status ?? '?'}]${bead.assignee ? ` assigned to ${bead.assignee}` : ''}` : 'no bead';

/** One tool result as text. */
export function formatResult(tool: ToolName, value: unknown): string {
  const r = (value ?? {}) as Result;
  switch (tool) {
    case 'gt_status':
      return [`agent ${r.agent?.id} (${r.agent?.role}, ${r.agent?.status})`, beadLine(r.bead)].join('\n');
    case 'gt_prime': {
      const lines = [`agent ${r.agent?.id} (${r.agent?.role}, ${r.agent?.status})`, beadLine(r.bead)];
      if (r.bead?.body) lines.push(r.bead.body);
      if (r.rig) lines.push(`rig ${r.rig.id}: ${r.rig.name ?? ''}${r.rig.gitUrl ? ` (${r.rig.gitUrl})` : ''}`);
      if (r.town) lines.push(`town ${r.town.id}: ${r.town.name ?? ''}`);
      return lines.join('\n');
    }
    case 'gt_bead_create':
      return `created ${beadLine(r.bead)}`;
    case 'gt_sling':
      return `slung ${r.bead?.id} to ${r.agentId}`;
    case 'gt_done':
    case 'gt_review_complete':
      return `${beadLine(r.bead)}${r.duplicate ? ' (already recorded)' : ''}`;
    case 'gt_mail_send':
      return `sent ${r.mailId} to ${r.to}`;
    case 'gt_mail_check': {
      const mail = r.mail ?? [];
      if (!mail.length) return 'no mail';
      return mail
        .map((m) => `${m.id} from ${m.from}${m.subject ? ` — ${m.subject}` : ''}${m.beadId ? ` (bead ${m.beadId})` : ''}\n  ${(m.body ?? '').replace(/\n/g, '\n  ')}`)
        .join('\n');
    }
  }
}
