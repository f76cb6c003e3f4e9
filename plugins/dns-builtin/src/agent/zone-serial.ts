/**
 * The SOA serial: a counter that moves on by one exactly when the served content
 * changes, kept in `<dataDir>/dns/serial` (with the content it belongs to beside it in
 * `served-content`) so a restart never hands out a smaller or reused serial.
 * It must never go backwards: that would make secondaries and caches keep old data.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SproutError } from '@sprout/kernel/sdk';

export class ZoneSerial {
  private serial: number;
  private content: string | undefined;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.serial = this.readSerial();
    this.content = readOptional(join(dir, 'served-content'));
  }

  /** The serial for zones with this content: the current one, or the next one, persisted. */
  serialFor(content: string): number {
    if (content === this.content) return this.serial;
    // RFC 1982 serial arithmetic wraps at 2^32; 0 is skipped because some tools read it as "unset".
    const next = (this.serial + 1) >>> 0 || 1;
    // Synchronous on purpose: a new desired state is answered from the moment the
    // listener returns, and the serial it carries is on disk by then. The serial is
    // written before the content, so a crash in between only costs one extra step.
    writeAtomically(join(this.dir, 'serial'), `${next}\n`);
    writeAtomically(join(this.dir, 'served-content'), content);
    this.serial = next;
    this.content = content;
    return next;
  }

  private readSerial(): number {
    const path = join(this.dir, 'serial');
    const text = readOptional(path);
    if (text === undefined) return 0;
    const serial = Number(text.trim());
    if (!/^\d+$/.test(text.trim()) || serial > 0xffff_ffff) {
      throw new SproutError('SPROUT_ERR_CONFIG', `${path} does not hold a DNS serial (an integer below 2^32): ${JSON.stringify(text.slice(0, 40))}`, {
        context: { service: 'dns', path },
      });
    }
    return serial;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function writeAtomically(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}
