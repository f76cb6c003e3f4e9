/**
 * Reports the agent owes the control plane, journaled to disk before they are sent so
 * that none is lost while the control plane or the broker is away. Sequence numbers
 * are per agent and strictly increasing; the journal replays in order and forgets a
 * report only once the transport confirmed it.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentReport } from '@sprout/kernel';

export class ReportJournal {
  private readonly file: string;
  private readonly sentFile: string;
  private pending: AgentReport[] = [];
  private sequence = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  lastError = '';

  constructor(
    dataDir: string,
    private readonly identity: { agentId: string; siteId: string },
    private readonly send: (reports: AgentReport[]) => Promise<void>,
  ) {
    this.file = join(dataDir, 'reports.jsonl');
    this.sentFile = join(dataDir, 'reports.sent');
    const sent = existsSync(this.sentFile) ? Number(readFileSync(this.sentFile, 'utf8')) || 0 : 0;
    const lines = existsSync(this.file) ? readFileSync(this.file, 'utf8').split('\n').filter(Boolean) : [];
    const journaled: AgentReport[] = [];
    for (const line of lines) {
      try {
        journaled.push(JSON.parse(line));
      } catch {
        /* a line torn by a crash mid-write: it was never confirmed, and never sent */
      }
    }
    this.sequence = Math.max(sent, ...journaled.map((r) => r.sequence), 0);
    this.pending = journaled.filter((r) => r.sequence > sent);
  }

  get backlog(): number {
    return this.pending.length;
  }

  /** Journals a report and schedules sending it. */
  add(kind: string, payload: Record<string, unknown>, workItemId?: string | null): AgentReport {
    const report: AgentReport = { agentId: this.identity.agentId, siteId: this.identity.siteId, sequence: ++this.sequence, kind, workItemId: workItemId ?? null, at: new Date().toISOString(), payload };
    appendFileSync(this.file, `${JSON.stringify(report)}\n`);
    this.pending.push(report);
    this.flushSoon(0);
    return report;
  }

  flushSoon(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  /** Sends what is pending, in order; on failure keeps it and retries later. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending.slice(0, 100);
        try {
          await this.send(batch);
        } catch (err) {
          this.lastError = (err as Error).message;
          this.flushSoon(1000);
          return;
        }
        this.lastError = '';
        const last = batch[batch.length - 1].sequence;
        this.pending = this.pending.filter((r) => r.sequence > last);
        writeFileSync(`${this.sentFile}.tmp`, String(last));
        renameSync(`${this.sentFile}.tmp`, this.sentFile);
        if (this.pending.length === 0) writeFileSync(this.file, '');
      }
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flushing;
  }
}
