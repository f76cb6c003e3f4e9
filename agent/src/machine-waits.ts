/**
 * Site steps that wait for a machine (commissioning, hardware tests, installation):
 * the task records what the machine may do and under which per-boot token, then the
 * step finishes when the machine calls back. Kept on disk (the changes of one event-loop
 * turn at its end, or at `flush()`), so an agent restart keeps every machine's token and
 * step; a finished or failed step revokes the token.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AgentTask } from '@sprout/kernel/sdk';
import { PersistedList } from './persisted-list.ts';

export interface MachineWait {
  token: string;
  machineId: string;
  workItemId: string;
  workflowId: string | null;
  step: string;
  params: Record<string, unknown>;
  since: string;
  /**
   * An install step's NoCloud seed token (first-boot.ts): minted with the install, written
   * into the installed system by the installer, and the token of the first-boot wait after it.
   */
  seedToken?: string;
  /** A first-boot wait: the last thing heard from the machine, for the failure's reason. */
  lastHeard?: string;
  /** A first-boot wait: when the installed OS called back (before its step reached the agent, too). */
  calledBackAt?: string;
  /** A first-boot wait with its step: when it fails for silence (ISO time). */
  deadline?: string;
}

/** A per-boot token: 24 random bytes, base64url. */
export const newToken = () => randomBytes(24).toString('base64url');

/** What a waiting task returns: the step goes on until the machine reports. */
export const deferred = Object.freeze({ deferred: true });

export class MachineWaits {
  private readonly list: PersistedList<MachineWait>;

  constructor(dataDir: string) {
    this.list = new PersistedList(join(dataDir, 'machine-waits.json'));
  }

  /** Starts waiting for `machineId` in a step; a newer step of the machine replaces the older. */
  add(wait: Omit<MachineWait, 'token' | 'since'> & { token?: string }): MachineWait {
    const entry = { ...wait, token: wait.token ?? newToken(), since: new Date().toISOString() };
    this.list.set([...this.list.items.filter((w) => w.machineId !== wait.machineId), entry]);
    return entry;
  }

  byToken(token: string): MachineWait | undefined {
    return this.list.items.find((w) => w.token === token);
  }

  byMachine(machineId: string): MachineWait | undefined {
    return this.list.items.find((w) => w.machineId === machineId);
  }

  /** Changes a wait in place (same token). */
  update(token: string, change: Partial<Omit<MachineWait, 'token'>>): MachineWait | undefined {
    const found = this.byToken(token);
    if (!found) return undefined;
    const updated = { ...found, ...change };
    this.list.set(this.list.items.map((w) => (w.token === token ? updated : w)));
    return updated;
  }

  /** Waits whose deadline has passed. */
  overdue(now = Date.now()): MachineWait[] {
    return this.list.items.filter((w) => w.deadline !== undefined && Date.parse(w.deadline) <= now);
  }

  /** Ends a wait: its token stops working. */
  remove(token: string): void {
    this.list.set(this.list.items.filter((w) => w.token !== token));
  }

  /** Writes the waits, if they changed since the last time. */
  flush(): void {
    this.list.flush();
  }
}

/** A task for a site step that ends when the machine calls back. */
export function waitForMachine(waits: MachineWaits): AgentTask {
  return async (item, ctx) => {
    const machineId = String(item.payload.machine ?? '');
    if (!machineId) throw new Error(`${String(item.payload.step)} needs a machine`);
    const step = String(item.payload.step);
    const params = (item.payload.params as Record<string, unknown>) ?? {};
    // An install that will be waited for after it (first-boot.ts) gets the installed system's seed token now: the installer writes it into the target.
    const seedToken = step === 'install' && params.firstBoot !== false ? newToken() : undefined;
    waits.add({ machineId, workItemId: item.id, workflowId: item.workflowId ?? null, step, params, ...(seedToken ? { seedToken } : {}) });
    ctx.log(`waiting for machine ${machineId} to boot the installer and call back`);
    return deferred;
  };
}
