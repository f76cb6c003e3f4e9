/**
 * MAC addresses: the one rule every package uses (the machines API and CSV import, DHCP
 * reservations and every `dhcp` provider, the DHCP responder, the agent's HTTP boot and
 * simulator), exported by the light SDK.
 *
 * Accepted spellings, case-insensitive, surrounding whitespace ignored:
 * `aa:bb:cc:dd:ee:ff` (colons), `AA-BB-CC-DD-EE-FF` (dashes), `aabb.ccdd.eeff` (Cisco dots)
 * and `aabbccddeeff` (bare hex). Separators may not be mixed (`aa:bb-cc:dd:ee:ff` is
 * refused). Every spelling becomes the stored and wire form `aa:bb:cc:dd:ee:ff`.
 */
import { SproutError } from '../errors/sprout-error.ts';

/**
 * The accepted spellings as a JSON-schema `pattern` (the machines API's `mac`; no
 * surrounding whitespace there). No backreferences, so any client's regex engine can use it.
 */
export const macPattern =
  '^([0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$';
/** The normalised form (`aa:bb:cc:dd:ee:ff`) as a JSON-schema `pattern`. */
export const normalisedMacPattern = '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$';

const spelled = new RegExp(macPattern);

/** `AA-BB-CC-DD-EE-FF` → `aa:bb:cc:dd:ee:ff`; undefined for anything that is not a MAC in an accepted spelling. */
export function parseMac(text: string | null | undefined): string | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (!spelled.test(trimmed)) return undefined;
  const hex = trimmed.replace(/[:.-]/g, '').toLowerCase();
  return `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
}

/**
 * As `parseMac`, but anything else is a SPROUT_ERR_VALIDATION naming `field`
 * (`details: [{ field }]`), which the API answers as a 400 problem.
 */
export function normaliseMac(mac: string, field = 'mac'): string {
  const normalised = parseMac(mac);
  if (normalised === undefined) {
    const message = `${JSON.stringify(mac)} is not a MAC address (e.g. aa:bb:cc:dd:ee:ff)`;
    throw new SproutError('SPROUT_ERR_VALIDATION', `${field}: ${message}`, { details: [{ field, message }], context: { [field]: mac } });
  }
  return normalised;
}
