/**
 * The last desired state the control plane published, kept on disk so that the agent
 * serves its machines from it across restarts and while the control plane is away.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DesiredStateStore {
  private readonly file: string;
  private state: Record<string, unknown>;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'desired-state.json');
    this.state = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
  }

  get(): Record<string, unknown> {
    return this.state;
  }

  private readonly listeners: ((state: Record<string, unknown>) => void)[] = [];

  replace(next: Record<string, unknown>): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(next));
    renameSync(`${this.file}.tmp`, this.file);
    this.state = next;
    for (const listener of this.listeners) listener(next);
  }

  onChange(listener: (state: Record<string, unknown>) => void): void {
    this.listeners.push(listener);
  }
}
