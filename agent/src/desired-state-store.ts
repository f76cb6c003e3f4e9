/**
 * The last desired state the control plane published, kept on disk so that the agent
 * serves its machines from it across restarts and while the control plane is away.
 * A state naming a machine (`scope`) is that machine's part only: it replaces the
 * machine's entries and the site's networks and keeps everything else; any other state
 * is the whole one and replaces all. The states applied in one event-loop turn reach the
 * disk and the site services once, at its end (or at `flush()`).
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writePrivateFile } from '@sprout/kernel';
import { join } from 'node:path';

interface MachineScope {
  machineId: string;
  hostname: string;
  macs: string[];
}

type Entry = Record<string, any>;

/** Which entries of each per-machine collection belong to the scoped machine. */
const ownedBy: Record<string, (entry: Entry, scope: MachineScope) => boolean> = {
  bootIntents: (b, scope) => b.machineId === scope.machineId,
  reservations: (r, scope) => scope.macs.includes(r.mac),
  dnsRecords: (d, scope) => String(d.name).startsWith(`${scope.hostname}.`) || (d.type === 'PTR' && String(d.value).startsWith(`${scope.hostname}.`)),
};

export class DesiredStateStore {
  private readonly file: string;
  private state: Record<string, unknown>;
  private dirty = false;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'desired-state.json');
    this.state = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
  }

  get(): Record<string, unknown> {
    return this.state;
  }

  private readonly listeners: ((state: Record<string, unknown>) => void)[] = [];

  /** Applies a published state, whole or one machine's part; returns the state now held. */
  apply(published: Record<string, unknown>): Record<string, unknown> {
    const scope = published.scope as MachineScope | undefined;
    if (!scope) return this.replace(published);
    const next: Record<string, unknown> = { ...this.state, site: published.site, networks: published.networks };
    for (const [name, owned] of Object.entries(ownedBy)) {
      if (!(name in published)) continue; // a part without a collection leaves it as it is
      const kept = ((this.state[name] as Entry[] | undefined) ?? []).filter((entry) => !owned(entry, scope));
      next[name] = [...kept, ...((published[name] as Entry[] | undefined) ?? [])];
    }
    return this.replace(next);
  }

  private replace(next: Record<string, unknown>): Record<string, unknown> {
    this.state = next;
    if (!this.dirty) {
      this.dirty = true;
      setImmediate(() => this.flush());
    }
    return next;
  }

  /** Writes the state held and tells the services, if it changed since the last time. */
  flush(): void {
    if (!this.dirty) return;
    writePrivateFile(`${this.file}.tmp`, JSON.stringify(this.state));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
    for (const listener of this.listeners) listener(this.state);
  }

  onChange(listener: (state: Record<string, unknown>) => void): void {
    this.listeners.push(listener);
  }
}
