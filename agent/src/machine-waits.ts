/**
 * Site steps that wait for a machine (commissioning, hardware tests, installation):
 * the task records what the machine may do and under which per-boot token, then the
 * step finishes when the machine calls back. Kept on disk (the changes of one event-loop
 * turn at its end, or at `flush()`), so an agent restart keeps every machine's token and
 * step; a finished or failed step revokes the token.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writePrivateFile } from '@sprout/kernel';
import { join } from 'node:path';
import type { AgentTask } from '@sprout/kernel';

export interface MachineWait {
  token: string;
  machineId: string;
  workItemId: string;
  workflowId: string | null;
  step: string;
  params: Record<string, unknown>;
  since: string;
}

/** What a waiting task returns: the step goes on until the machine reports. */
export const deferred = Object.freeze({ deferred: true });

export class MachineWaits {
  private readonly file: string;
  private waits: MachineWait[];
  private dirty = false;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'machine-waits.json');
    this.waits = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : [];
  }

  /** Starts waiting for `machineId` in a step; a newer step of the machine replaces the older. */
  add(wait: Omit<MachineWait, 'token' | 'since'>): MachineWait {
    const entry = { ...wait, token: randomBytes(24).toString('base64url'), since: new Date().toISOString() };
    this.waits = [...this.waits.filter((w) => w.machineId !== wait.machineId), entry];
    this.save();
    return entry;
  }

  byToken(token: string): MachineWait | undefined {
    return this.waits.find((w) => w.token === token);
  }

  byMachine(machineId: string): MachineWait | undefined {
    return this.waits.find((w) => w.machineId === machineId);
  }

  /** Ends a wait: its token stops working. */
  remove(token: string): void {
    this.waits = this.waits.filter((w) => w.token !== token);
    this.save();
  }

  private save(): void {
    if (this.dirty) return;
    this.dirty = true;
    setImmediate(() => this.flush());
  }

  /** Writes the waits, if they changed since the last time. */
  flush(): void {
    if (!this.dirty) return;
    writePrivateFile(`${this.file}.tmp`, JSON.stringify(this.waits));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
  }
}

/** A task for a site step that ends when the machine calls back. */
export function waitForMachine(waits: MachineWaits): AgentTask {
  return async (item, ctx) => {
    const machineId = String(item.payload.machine ?? '');
    if (!machineId) throw new Error(`${String(item.payload.step)} needs a machine`);
    waits.add({ machineId, workItemId: item.id, workflowId: item.workflowId ?? null, step: String(item.payload.step), params: (item.payload.params as Record<string, unknown>) ?? {} });
    ctx.log(`waiting for machine ${machineId} to boot the installer and call back`);
    return deferred;
  };
}

/** The manual power driver: asks a person to power the machine on. */
export const manualPowerOn: AgentTask = async (item, ctx) => {
  ctx.log(`power on machine ${String(item.payload.machine)} by hand (manual power driver); it will PXE-boot from this agent`);
  return { driver: 'manual' };
};
