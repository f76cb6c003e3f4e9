import { SproutCommand, Command, Option, table } from '@sprout/kernel/cli';
import * as t from 'typanion';

interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  requestId: string | null;
  details: Record<string, unknown>;
}

export class AuditListCommand extends SproutCommand {
  static paths = [['audit', 'list']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'List audit records, newest first',
    examples: [['Everything denied', 'sprout audit list --outcome denied'], ['One actor since a time', 'sprout audit list --actor token:ci --since 2026-11-26T00:00:00Z']],
  });

  actor = Option.String('--actor', { description: 'e.g. token:bootstrap-admin' });
  action = Option.String('--action', { description: 'e.g. token.create' });
  targetType = Option.String('--target-type');
  target = Option.String('--target', { description: 'Target id' });
  outcome = Option.String('--outcome', { validator: t.isEnum(['success', 'denied', 'failed']) });
  since = Option.String('--since', { description: 'ISO 8601 date-time' });
  limit = Option.String('--limit', '50', { validator: t.isNumber() });
  all = Option.Boolean('--all', false, { description: 'Follow cursors to the end' });

  async run() {
    const api = this.api();
    const items: AuditRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.get<{ items: AuditRecord[]; nextCursor: string | null }>('v1/audit', {
        actor: this.actor,
        action: this.action,
        targetType: this.targetType,
        target: this.target,
        outcome: this.outcome,
        since: this.since,
        limit: this.limit,
        cursor,
      });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (this.all && cursor);
    this.print(items, () =>
      table(
        ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'DETAILS'],
        items.map((r) => [r.id, r.at, r.actor, r.action, r.targetId ? `${r.targetType ?? '?'}:${r.targetId}` : r.targetType, r.outcome, summarise(r.details)]),
      ),
    );
  }
}

function summarise(details: Record<string, unknown>): string {
  const text = Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
