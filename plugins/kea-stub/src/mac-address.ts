/**
 * MAC addresses as operators and tools spell them (colons, dashes, Cisco dots, bare hex)
 * reduced to the form Kea's `hw-address` uses and answers with: lowercase, colon-separated.
 */
import { SproutError } from '@sprout/kernel';

const spellings = [/^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i, /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i, /^[0-9a-f]{12}$/i];

export function normaliseMac(mac: string): string {
  const spelled = String(mac).trim();
  if (!spellings.some((form) => form.test(spelled))) {
    const message = `${JSON.stringify(mac)} is not a MAC address (e.g. aa:bb:cc:dd:ee:ff)`;
    throw new SproutError('SPROUT_ERR_VALIDATION', `DHCP reservation mac: ${message}`, { details: [{ field: 'mac', message }], context: { mac } });
  }
  return spelled.replace(/[:.-]/g, '').toLowerCase().match(/../g)!.join(':');
}
