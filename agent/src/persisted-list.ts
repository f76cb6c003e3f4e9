/**
 * A small list of records the agent keeps across restarts (machine waits, power waits):
 * the changes of one event-loop turn are written at its end, or at `flush()`, through a
 * temporary file renamed over the old one, so a crash leaves the old list or the new.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writePrivateFile } from '@sprout/kernel/sdk';

export class PersistedList<T> {
  private current: T[];
  private dirty = false;

  constructor(private readonly file: string) {
    this.current = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  }

  get items(): readonly T[] {
    return this.current;
  }

  /** Replaces the list; it reaches the disk at the end of this turn. */
  set(items: T[]): void {
    this.current = items;
    if (this.dirty) return;
    this.dirty = true;
    setImmediate(() => this.flush());
  }

  /** Writes the list, if it changed since the last time. */
  flush(): void {
    if (!this.dirty) return;
    writePrivateFile(`${this.file}.tmp`, JSON.stringify(this.current));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
  }
}
