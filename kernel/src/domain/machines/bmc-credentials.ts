/**
 * BMC passwords (and Redfish tokens) at rest: sealed with AES-256-GCM under the
 * control plane's credential key, bound to their machine (the machine id is the
 * additional data, so a sealed value copied onto another machine does not open). They
 * are opened only to build the power work item a site agent needs; no route returns
 * them. The key comes from `power.credentialKey` / SPROUT_POWER_CREDENTIAL_KEY, else
 * from a key file generated once in the data directory (0600).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { powerCredentialKeys, type PowerTarget } from '../../capabilities/power.ts';
import type { SproutConfig } from '../../config/schema.ts';
import { outboxIdOf } from '../workflows/outbox-dispatcher.ts';
import { SproutError } from '../../errors/index.ts';
import { ensurePrivateDir, writePrivateFile } from '../../store/private-dir.ts';

const version = 'v1';

export class CredentialSealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SproutError('SPROUT_ERR_CONFIG', 'power.credentialKey must be 32 bytes (base64 of `openssl rand -base64 32`)');
  }

  /** `v1:<base64 of iv | tag | ciphertext>`. */
  seal(machineId: string, secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(machineId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${version}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(machineId: string, sealed: string): string {
    const [tag, data] = sealed.split(':', 2);
    if (tag !== version || !data) throw new SproutError('SPROUT_ERR_INTERNAL', `machine ${machineId}: its BMC credentials are stored in an unknown format`);
    const raw = Buffer.from(data, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(machineId));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `machine ${machineId}: its BMC credentials do not open with this control plane's credential key (power.credentialKey changed?); set them again with \`sprout machine update --bmc-password-file\``,
      );
    }
  }
}

/** The credential key: from config or environment, else generated once into `<dataDir>/power-credential.key`. */
export function credentialSealer(config: Pick<SproutConfig, 'dataDir' | 'power'>): CredentialSealer {
  if (config.power?.credentialKey) return new CredentialSealer(Buffer.from(config.power.credentialKey, 'base64'));
  const file = join(config.dataDir, 'power-credential.key');
  if (!existsSync(file)) {
    ensurePrivateDir(config.dataDir);
    writePrivateFile(file, `${randomBytes(32).toString('base64')}\n`);
  }
  return new CredentialSealer(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
}

/**
 * The machine as its site agent's power driver needs it, credentials opened: only for
 * the payload of a power work item. A machine without a BMC is powered by hand (`manual`).
 */
export async function powerTargetOf(db: Knex | Knex.Transaction, sealer: CredentialSealer, machineId: string): Promise<PowerTarget> {
  const machine = await db('machines').where({ id: machineId }).first('id', 'hostname', 'bmc', 'bmc_secret');
  if (!machine) throw new SproutError('SPROUT_ERR_NOT_FOUND', `machine ${machineId} does not exist`);
  const nics = await db('interfaces')
    .where({ machine_id: machineId })
    .orderBy([
      { column: 'pxe', order: 'desc' },
      { column: 'mac', order: 'asc' },
    ])
    .select('mac');
  const bmc = (typeof machine.bmc === 'string' ? JSON.parse(machine.bmc) : machine.bmc) as Record<string, unknown> | null;
  return {
    machineId,
    hostname: machine.hostname,
    macs: nics.map((n: { mac: string }) => n.mac.toLowerCase()),
    bmc: bmc
      ? {
          type: String(bmc.type),
          ...(bmc.address ? { address: String(bmc.address) } : {}),
          ...(bmc.username ? { username: String(bmc.username) } : {}),
          ...(machine.bmc_secret ? { password: sealer.open(machineId, machine.bmc_secret) } : {}),
          ...(bmc.insecure === true ? { insecure: true } : {}),
          ...(bmc.options ? { options: bmc.options as Record<string, string | number | boolean> } : {}),
        }
      : { type: 'manual' },
  };
}

/** Drops the opened credentials from a settled work item's outbox row (in the report's transaction). */
export async function scrubCredentials(db: Knex | Knex.Transaction, workItemId: string): Promise<void> {
  const outboxId = outboxIdOf(workItemId);
  if (outboxId === null) return;
  await db('outbox')
    .where({ id: outboxId })
    .update({ payload: db.raw(`payload ${powerCredentialKeys.map((key) => `- '${key}'`).join(' ')}`) });
}
