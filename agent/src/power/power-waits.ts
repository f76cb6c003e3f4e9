/**
 * The manual power-ons the agent waits on: a person powers the machine, and the step
 * ends when a site service sees it ask to boot (a PXE client's DHCP request, its iPXE
 * script request) — only after the step started, since a wait is added when the step
 * starts and sightings are not kept. Kept on disk (PersistedList), so a restarted agent
 * still ends the step when the machine shows up. One wait per machine: a newer step
 * replaces the older.
 */
import { join } from 'node:path';
import { parseMac, type AgentSightings } from '@sprout/kernel/sdk';
import { PersistedList } from '../persisted-list.ts';

export interface PowerWait {
  workItemId: string;
  machineId: string;
  hostname: string;
  /** Lower-case, colon-separated. */
  macs: string[];
  step: string;
  since: string;
}

export class PowerWaits implements AgentSightings {
  private readonly list: PersistedList<PowerWait>;

  /** `onSeen` ends the wait's step; it runs after the wait is removed. */
  constructor(
    dataDir: string,
    private readonly onSeen: (wait: PowerWait, mac: string, via: string) => void,
  ) {
    this.list = new PersistedList(join(dataDir, 'power-waits.json'));
  }

  add(wait: Omit<PowerWait, 'since'>): PowerWait {
    const entry = { ...wait, macs: wait.macs.map((m) => parseMac(m) ?? m.toLowerCase()), since: new Date().toISOString() };
    this.list.set([...this.list.items.filter((w) => w.machineId !== wait.machineId), entry]);
    return entry;
  }

  get size(): number {
    return this.list.items.length;
  }

  seen(mac: string, via: string): void {
    if (this.list.items.length === 0) return;
    const key = parseMac(mac) ?? mac.toLowerCase();
    const found = this.list.items.filter((w) => w.macs.includes(key));
    if (found.length === 0) return;
    this.list.set(this.list.items.filter((w) => !found.includes(w)));
    for (const wait of found) this.onSeen(wait, key, via);
  }

  flush(): void {
    this.list.flush();
  }
}
