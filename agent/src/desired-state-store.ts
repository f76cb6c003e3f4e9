/**
 * The site's desired state as this agent serves it: the last valid document the control
 * plane published, kept on disk so the agent serves its machines from it across restarts
 * and while the control plane is away. A document replaces the whole state, and only a
 * newer revision does: an older one arriving late is ignored.
 *
 * One local fact may run ahead of the control plane: a machine that reported its install
 * complete boots its disk at once, before the control plane's `local` intent arrives.
 * That is kept here, on disk (`installed`), and read through `get()`; it ends as soon as
 * a document no longer says "deploy" for that machine and workflow.
 *
 * The services hear of a new document at the end of the turn it arrived in; the file is
 * rewritten at most once a second while documents keep coming (a thousand machines being
 * provisioned change the site many times a second, and each write was the whole site),
 * and at once on `flush()` and for a local `installed` fact.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writePrivateFile } from '@sprout/kernel/sdk';
import { join } from 'node:path';
import type { SiteDesiredState, SiteDesiredStateDocument } from '@sprout/kernel/sdk';

interface OnDisk {
  document: SiteDesiredStateDocument | null;
  /** machineId → the deploy workflow whose install the machine reported complete. */
  installed: Record<string, string | null>;
}

/** The least time between two writes of the file while documents keep coming. */
const writeEveryMs = 1000;

export class DesiredStateStore {
  private readonly file: string;
  private document: SiteDesiredStateDocument | null;
  private installed: Record<string, string | null>;
  private view: SiteDesiredState;
  /** The file is behind the state held. */
  private dirty = false;
  /** The services are behind the state held. */
  private untold = false;
  private lastWrite = 0;
  private writeTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly listeners: ((state: SiteDesiredState) => void)[] = [];

  constructor(dataDir: string) {
    this.file = join(dataDir, 'desired-state.json');
    const held = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Partial<OnDisk> & Record<string, unknown>) : {};
    // A file from before revisions held the state itself: it is served until the first document arrives.
    this.document =
      held.document !== undefined ? held.document : Object.keys(held).length ? ({ revision: -1, ...held } as unknown as SiteDesiredStateDocument) : null;
    this.installed = held.installed ?? {};
    this.view = this.compose();
  }

  /** What the site services serve: the document, with machines that just installed booting their disk. */
  get(): SiteDesiredState {
    return this.view;
  }

  /** The revision served; null before the first document. */
  get revision(): number | null {
    return this.document && this.document.revision >= 0 ? this.document.revision : null;
  }

  /** Takes a (validated) document if it is newer than the one held; returns whether it did. */
  apply(document: SiteDesiredStateDocument): boolean {
    if (this.revision !== null && document.revision <= this.revision) return false;
    this.document = document;
    // The control plane has spoken about these machines: its word replaces the local one.
    for (const [machineId, workflow] of Object.entries(this.installed)) {
      const intent = document.bootIntents.find((b) => b.machineId === machineId);
      if (intent?.intent !== 'deploy' || intent.workflow !== workflow) delete this.installed[machineId];
    }
    this.changed();
    return true;
  }

  /** A machine reported its install complete: it boots its disk from now on, across restarts too. */
  markInstalled(machineId: string, workflow: string | null): void {
    this.installed[machineId] = workflow;
    this.changed();
    this.flush();
  }

  private compose(): SiteDesiredState {
    const document: SiteDesiredState = this.document ?? {};
    const bootIntents = (document.bootIntents ?? []).map((b) =>
      b.intent === 'deploy' && b.machineId in this.installed && this.installed[b.machineId] === b.workflow ? { ...b, intent: 'local' as const, params: {} } : b,
    );
    return { ...document, bootIntents };
  }

  private changed(): void {
    this.view = this.compose();
    if (!this.untold) {
      this.untold = true;
      setImmediate(() => this.settle());
    }
    this.dirty = true;
  }

  /** At the end of a turn with a change: the services are told, and the file is written unless it was within the last second. */
  private settle(): void {
    const wait = this.lastWrite + writeEveryMs - Date.now();
    if (wait <= 0) this.write();
    else this.writeTimer ??= setTimeout(() => ((this.writeTimer = undefined), this.write()), wait);
    this.tell();
  }

  /** Writes the state held and tells the services, if it changed since the last time. */
  flush(): void {
    this.write();
    this.tell();
  }

  /** Writes what is pending, once; later changes stay in memory (the agent is stopping, its folder may go). */
  close(): void {
    this.write();
    this.closed = true;
  }

  private write(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    if (!this.dirty || this.closed) return;
    const onDisk: OnDisk = { document: this.document, installed: this.installed };
    writePrivateFile(`${this.file}.tmp`, JSON.stringify(onDisk));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
    this.lastWrite = Date.now();
  }

  private tell(): void {
    if (!this.untold) return;
    this.untold = false;
    for (const listener of this.listeners) listener(this.view);
  }

  onChange(listener: (state: SiteDesiredState) => void): void {
    this.listeners.push(listener);
  }
}
