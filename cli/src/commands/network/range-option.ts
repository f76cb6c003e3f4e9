/** `--dynamic START-END` / `--reserved START-END` as the API's ranges; a malformed one names its flag. */
import type { AddressRange } from './render.ts';

export class RangeOptionError extends Error {
  readonly code = 'SPROUT_ERR_VALIDATION';
  readonly details: { field: string; message: string }[];

  constructor(flag: string, value: string, expected = `START-END, e.g. ${flag} 198.18.0.100-198.18.0.199`) {
    super(`${flag} ${value}: expected ${expected}`);
    this.details = [{ field: flag, message: 'expected two IPv4 addresses joined by "-"' }];
  }

  explain(): string {
    return this.message;
  }
}

export function rangesFrom(kind: AddressRange['kind'], values: string[]): AddressRange[] {
  return values.map((value) => {
    const parts = value.split('-').map((p) => p.trim());
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new RangeOptionError(`--${kind}`, value);
    return { kind, start: parts[0], end: parts[1] };
  });
}

/** `--range KIND:START-END` (KIND dynamic or reserved) as the API's range; a malformed one names the flag. */
export function rangeFromSpec(value: string): AddressRange {
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon);
  if (colon < 0 || (kind !== 'dynamic' && kind !== 'reserved'))
    throw new RangeOptionError('--range', value, 'KIND:START-END with KIND dynamic or reserved, e.g. --range dynamic:198.18.0.100-198.18.0.199');
  const parts = value
    .slice(colon + 1)
    .split('-')
    .map((p) => p.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new RangeOptionError('--range', value, 'KIND:START-END, e.g. --range dynamic:198.18.0.100-198.18.0.199');
  return { kind, start: parts[0], end: parts[1] };
}
