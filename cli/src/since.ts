/**
 * `--since` as people say it: a duration ago (`30m`, `1h`, `2d`, `1w`), `today` or
 * `yesterday` (local midnight), or an ISO 8601 date or date-time. The API takes an
 * ISO date-time; anything else is refused naming the flag.
 */
import { FlagInputError } from '@sprout/kernel/cli';

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseSince(text: string, now: Date = new Date(), flag = '--since'): string {
  const value = text.trim().toLowerCase();
  const ago = /^(\d+)\s*([smhdw])$/.exec(value);
  if (ago) return new Date(now.getTime() - Number(ago[1]) * units[ago[2]]).toISOString();
  if (value === 'today' || value === 'yesterday') {
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    if (value === 'yesterday') midnight.setDate(midnight.getDate() - 1);
    return midnight.toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}([t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    const at = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00` : value.replace(' ', 'T').toUpperCase());
    if (!Number.isNaN(at.getTime())) return at.toISOString();
  }
  throw new FlagInputError(
    flag,
    `"${text}" is not a time: use a duration ago (30m, 1h, 2d, 1w), today, yesterday, or an ISO date (2026-11-26 or 2026-11-26T08:00:00Z)`,
  );
}
