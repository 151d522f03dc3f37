import { ago, h, replace, shortId } from '../lib/dom.js';
import { agentName } from './agents-table.js';

const COLUMNS = ['open', 'assigned', 'done', 'closed'];
/** Beads listed per column at most (the most recently changed); the count says how many there are. */
const PER_COLUMN = 30;

/** The beads board: one column per status, most recently changed first. */
export class BeadsBoard {
  constructor() {
    this.columns = new Map(COLUMNS.map((status) => [status, { count: h('span', { class: 'count' }), list: h('ul', {}) }]));
    this.el = h(
      'div',
      { class: 'board', id: 'beads' },
      ...COLUMNS.map((status) => {
        const col = this.columns.get(status);
        const id = `beads-${status}`;
        return h('section', { class: `column status-${status}`, 'aria-labelledby': id }, h('h3', { id }, status, ' ', col.count), col.list);
      }),
    );
  }

  /** @param {{beads: Array<object>, counts: {beads: Record<string, number>}}} view @param {Map<string, object>} agentById */
  update(view, agentById, now) {
    for (const status of COLUMNS) {
      const col = this.columns.get(status);
      const beads = view.beads.filter((b) => b.status === status).sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
      const total = view.counts?.beads?.[status] ?? beads.length;
      replace(col.count, `(${total})`);
      replace(
        col.list,
        ...beads.slice(0, PER_COLUMN).map((b) =>
          h(
            'li',
            { class: 'bead', dataset: { beadId: b.id, status: b.status } },
            h('span', { class: 'title' }, b.title || '(untitled)'),
            h('span', { class: 'meta' }, h('code', { title: b.id }, shortId(b.id)), b.assignee ? ` · ${agentName(agentById.get(b.assignee), b.assignee)}` : '', ` · ${ago(b.updatedAt, now)}`),
          ),
        ),
        total > PER_COLUMN ? h('li', { class: 'more' }, `${total - Math.min(PER_COLUMN, beads.length)} more`) : '',
      );
    }
  }
}
