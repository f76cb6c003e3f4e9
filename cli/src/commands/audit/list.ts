import { SproutCommand, Command, Option, table, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { fetchPages, truncationNotice } from '../../pages.ts';
import { parseSince } from '../../since.ts';

export class AuditListCommand extends SproutCommand {
  static paths = [['audit', 'list']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'List audit records, newest first',
    examples: [
      ['Everything denied', 'sprout audit list --outcome denied'],
      ['One actor since a time', 'sprout audit list --actor token:ci --since 2026-11-26T00:00:00Z'],
      ['A machine, the last two hours', 'sprout audit list --target node-01 --since 2h'],
    ],
    details: 'With --json the output is `{items, nextCursor}`; a page cut short by --limit is announced on stderr with the --cursor that continues it.',
  });

  actor = Option.String('--actor', { description: 'e.g. token:bootstrap-admin' });
  action = Option.String('--action', { description: 'e.g. token.create' });
  targetType = Option.String('--target-type', { description: 'e.g. machine, token, network' });
  target = Option.String('--target', { description: 'Target id; a machine by its id or hostname alike' });
  outcome = Option.String('--outcome', { description: 'success, denied or failed', validator: t.isEnum(['success', 'denied', 'failed'] as const) });
  since = Option.String('--since', { description: 'Only records since: 30m, 1h, 2d, 1w ago, today, yesterday, or an ISO date/date-time' });
  limit = Option.String('--limit', '50', { description: 'Records per page (default 50, at most 500)', validator: t.isNumber() });
  cursor = Option.String('--cursor', { description: 'Continue a list: the nextCursor of the previous page' });
  all = Option.Boolean('--all', false, { description: 'Follow cursors to the end' });

  async run() {
    const since = this.since === undefined ? undefined : parseSince(this.since);
    const api = this.api().typed;
    const query = { actor: this.actor, action: this.action, targetType: this.targetType, target: this.target, outcome: this.outcome, since, limit: this.limit };
    const page = await fetchPages((cursor) => ok(api.GET('/v1/audit', { params: { query: { ...query, cursor } } })), { all: this.all, cursor: this.cursor });
    this.print(page, () =>
      table(
        ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'DETAILS'],
        page.items.map((r) => [
          r.id,
          r.at,
          r.actor,
          r.action,
          r.targetId ? `${r.targetType ?? '?'}:${r.targetId}` : r.targetType,
          r.outcome,
          summarise(r.details),
        ]),
      ),
    );
    this.context.stderr.write(truncationNotice(page));
  }
}

function summarise(details: Record<string, unknown>): string {
  const text = Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
