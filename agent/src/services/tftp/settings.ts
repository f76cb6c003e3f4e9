/**
 * The TFTP service's settings (`services.tftp` in the agent's config), with defaults.
 * Every invalid field is reported at once, so an operator fixes the config in one pass.
 */
import { isIP } from 'node:net';
import { SproutError, type ProblemDetail } from '@sprout/kernel/sdk';
import { maxBlksizeOnWire, minBlksize } from './options.ts';

export interface TftpSettings {
  port: number;
  address: string;
  /** The directory served; nothing outside it is ever read. */
  root: string;
  /** Retransmission timeout for an un-acknowledged window or OACK. */
  timeoutMs: number;
  /** Retransmissions of the same window before the transfer is given up. */
  retries: number;
  maxTransfers: number;
  /** The largest blksize granted; 1468 keeps a DATA packet inside a 1500-byte MTU. */
  maxBlksize: number;
  /**
   * Files up to this size are read once and sent from memory to every transfer of them
   * running at the same time; larger ones are read from disk in chunks per transfer. At
   * most four such files' worth is held at once. 0: every transfer reads from disk.
   */
  sharedFileMaxBytes: number;
  /**
   * Child processes that run transfers beside the agent's own, so transfers use more than
   * one core (a core count minus one is a good value). The agent still receives and checks
   * every request. 0: every transfer runs in the agent's process.
   */
  workers: number;
}

export const defaultTftpSettings: Readonly<TftpSettings> = Object.freeze({
  port: 69,
  address: '0.0.0.0',
  // Debian's `ipxe` package installs undionly.kpxe and ipxe.efi here.
  root: '/usr/lib/ipxe',
  timeoutMs: 500,
  retries: 5,
  maxTransfers: 256,
  maxBlksize: 1468,
  sharedFileMaxBytes: 64 * 1024 * 1024,
  workers: 0,
});

const integerFields: Record<'port' | 'timeoutMs' | 'retries' | 'maxTransfers' | 'maxBlksize' | 'sharedFileMaxBytes' | 'workers', [min: number, max: number]> = {
  port: [0, 65535],
  timeoutMs: [10, 60_000],
  retries: [0, 100],
  maxTransfers: [1, 65535],
  maxBlksize: [minBlksize, maxBlksizeOnWire],
  sharedFileMaxBytes: [0, 1024 * 1024 * 1024],
  workers: [0, 64],
};

export function parseTftpSettings(raw: Record<string, unknown>): TftpSettings {
  const settings: TftpSettings = { ...defaultTftpSettings };
  const problems: ProblemDetail[] = [];
  for (const [name, [min, max]] of Object.entries(integerFields) as [keyof typeof integerFields, [number, number]][]) {
    const value = raw[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push({ field: `services.tftp.${name}`, message: `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}` });
    } else {
      settings[name] = value;
    }
  }
  for (const name of ['address', 'root'] as const) {
    const value = raw[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '')
      problems.push({ field: `services.tftp.${name}`, message: `must be a non-empty string, got ${JSON.stringify(value)}` });
    else if (name === 'address' && isIP(value) === 0)
      problems.push({ field: 'services.tftp.address', message: `must be an IPv4 or IPv6 address, got ${JSON.stringify(value)}` });
    else settings[name] = value;
  }
  const known = new Set<string>(Object.keys(defaultTftpSettings));
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) problems.push({ field: `services.tftp.${name}`, message: `is not a TFTP setting; known: ${[...known].join(', ')}` });
  }
  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_CONFIG', `services.tftp has ${problems.length} invalid setting(s)`, { details: problems, context: { service: 'tftp' } });
  }
  return settings;
}
