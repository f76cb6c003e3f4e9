import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class AuditPruneCommand extends SproutCommand {
  static paths = [['audit', 'prune']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Remove audit records written before a time (admin); the prune itself is recorded',
    details: 'For a standing policy set `audit.retentionDays` in sprout.yaml instead: the server then prunes hourly.',
    examples: [
      ['Everything before 2026', 'sprout audit prune --before 2026-01-01T00:00:00Z'],
      ['Before a date (midnight UTC)', 'sprout audit prune --before 2026-06-30'],
    ],
  });

  before = Option.String('--before', { required: true, description: 'ISO 8601 date or date-time; records written before it are removed' });

  async run() {
    const { SproutError } = await import('@sprout/kernel');
    const at = /^\d{4}-\d{2}-\d{2}$/.test(this.before) ? new Date(`${this.before}T00:00:00Z`) : new Date(this.before);
    if (Number.isNaN(at.getTime())) {
      throw new SproutError(
        'SPROUT_ERR_VALIDATION',
        `--before must be an ISO 8601 date or date-time (e.g. 2026-01-01 or 2026-01-01T00:00:00Z), not "${this.before}"`,
        { details: [{ field: '--before', message: 'not a date' }] },
      );
    }
    const result = await ok(this.api().typed.POST('/v1/audit/prune', { body: { before: at.toISOString() } }));
    this.print(result, () => `removed ${result.removed} audit record${result.removed === 1 ? '' : 's'} written before ${result.before}`);
  }
}
