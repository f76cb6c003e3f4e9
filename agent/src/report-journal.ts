/**
 * Reports the agent owes the control plane, journaled to disk before they are sent so
 * that none is lost while the control plane or the broker is away. Sequence numbers
 * are per agent and strictly increasing; the journal replays in order and forgets a
 * report only once the transport confirmed it.
 *
 * Reports added in one event-loop turn go to disk in one append at the end of the turn
 * (a DHCP exchange alone adds two); only reports on disk are sent. A caller whose next
 * durable step depends on its reports (marking a work item done, revoking a machine's
 * token, answering the machine) calls `writeOut()` first.
 */
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { writePrivateFile } from '@sprout/kernel/sdk';
import { join } from 'node:path';
import { reportPayloadProblem, type AgentReport } from '@sprout/kernel/sdk';

const batchSize = 100;
/** How many confirmed reports may go unmarked on disk. */
const markEvery = 1000;

export class ReportJournal {
  private readonly file: string;
  private readonly sentFile: string;
  /** On disk and not yet confirmed, oldest first. */
  private pending: AgentReport[] = [];
  /** Added this turn, not yet on disk. */
  private unwritten: AgentReport[] = [];
  private writeScheduled = false;
  private sequence = 0;
  /** The last sequence the transport confirmed, and the last written to `reports.sent`. */
  private confirmed = 0;
  private markedSent = 0;
  private linesOnDisk = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  lastError = '';
  /** Reports set aside as malformed instead of sent, and the last reason. */
  rejected = 0;
  lastRejection = '';
  private readonly rejectedFile: string;
  /**
   * The journal, open for appending from the first write to close(): a busy service (a
   * DHCP exchange adds two reports) writes every turn, and opening and closing the file
   * each time cost about as much as the write. `reports.sent` marks truncate it in
   * place, which an O_APPEND descriptor follows.
   */
  private fd: number | undefined;

  constructor(
    dataDir: string,
    private readonly identity: { agentId: string; siteId: string },
    private readonly send: (reports: AgentReport[]) => Promise<void>,
  ) {
    this.file = join(dataDir, 'reports.jsonl');
    this.sentFile = join(dataDir, 'reports.sent');
    this.rejectedFile = join(dataDir, 'reports.rejected.jsonl');
    const sent = existsSync(this.sentFile) ? Number(readFileSync(this.sentFile, 'utf8')) || 0 : 0;
    const lines = existsSync(this.file) ? readFileSync(this.file, 'utf8').split('\n').filter(Boolean) : [];
    for (const line of lines) {
      let report: AgentReport;
      try {
        report = JSON.parse(line);
      } catch {
        continue; // a line torn by a crash mid-write: it was never confirmed, and never sent
      }
      this.sequence = Math.max(this.sequence, report.sequence);
      this.linesOnDisk++;
      if (report.sequence > sent) this.pending.push(report);
    }
    this.sequence = Math.max(this.sequence, sent);
    this.confirmed = this.markedSent = sent;
  }

  get backlog(): number {
    return this.pending.length + this.unwritten.length;
  }

  /**
   * Journals a report (on disk by the end of this event-loop turn) and schedules sending it.
   * A report the control plane would refuse as malformed is not sent at all: it would wait
   * at the head of the journal forever, holding back every later report. It goes to
   * `reports.rejected.jsonl` with its reason instead, and the heartbeat counts it.
   */
  add(kind: string, payload: Record<string, unknown>, workItemId?: string | null): AgentReport {
    const report: AgentReport = {
      agentId: this.identity.agentId,
      siteId: this.identity.siteId,
      sequence: this.sequence + 1,
      kind,
      workItemId: workItemId ?? null,
      at: new Date().toISOString(),
      payload,
    };
    const problem = reportPayloadProblem(kind, payload);
    if (problem) {
      this.rejected += 1;
      this.lastRejection = `${kind}: ${problem.field} ${problem.message}`;
      try {
        appendFileSync(this.rejectedFile, `${JSON.stringify({ reason: `${problem.field} ${problem.message}`, report })}\n`, { mode: 0o600 });
      } catch {
        // The count and reason still reach the heartbeat.
      }
      return report;
    }
    this.sequence = report.sequence;
    this.unwritten.push(report);
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      setImmediate(() => this.writeLater());
    }
    return report;
  }

  /** Puts every report added so far on disk now, in one append; throws when it cannot. */
  writeOut(): void {
    if (this.unwritten.length === 0) return;
    let lines = '';
    for (const report of this.unwritten) lines += `${JSON.stringify(report)}\n`;
    this.append(lines);
    this.linesOnDisk += this.unwritten.length;
    for (const report of this.unwritten) this.pending.push(report);
    this.unwritten = [];
    this.flushSoon(0);
  }

  private append(lines: string): void {
    // After close() nothing would close a descriptor again.
    if (this.closed) return appendFileSync(this.file, lines, { mode: 0o600 });
    this.fd ??= openSync(this.file, 'a', 0o600);
    const bytes = Buffer.from(lines);
    for (let at = 0; at < bytes.length; ) at += writeSync(this.fd, bytes, at);
  }

  private writeLater(): void {
    this.writeScheduled = false;
    try {
      this.writeOut();
    } catch (err) {
      // Kept in memory and tried again; nothing is sent before it is on disk.
      this.lastError = `cannot journal reports: ${(err as Error).message}`;
      if (!this.closed) {
        this.writeScheduled = true;
        setTimeout(() => this.writeLater(), 1000).unref();
      }
    }
  }

  flushSoon(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  /** Sends what is on disk, in order; on failure keeps it and retries later. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending.slice(0, batchSize);
        try {
          await this.send(batch);
        } catch (err) {
          this.lastError = (err as Error).message;
          this.flushSoon(1000);
          return;
        }
        this.lastError = '';
        // Reports only join the end of `pending`, so the batch is still its head.
        this.pending.splice(0, batch.length);
        const confirmed = batch[batch.length - 1].sequence;
        // Marked now and then: a crash replays at most that many, which the control plane applies once.
        if (confirmed - this.markedSent >= markEvery) this.markSent(confirmed);
        this.confirmed = confirmed;
      }
      // Keeps the file short when the marks keep falling while reports are pending.
      if (this.pending.length === 0 && this.linesOnDisk >= markEvery) this.markSent(this.confirmed);
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Records that the transport confirmed every report up to `sequence`; forgets the lines once none is pending. */
  private markSent(sequence: number): void {
    writePrivateFile(`${this.sentFile}.tmp`, String(sequence));
    renameSync(`${this.sentFile}.tmp`, this.sentFile);
    this.markedSent = sequence;
    if (this.pending.length === 0) {
      writePrivateFile(this.file, '');
      this.linesOnDisk = 0;
    }
  }

  /** Writes what was added, stops sending once the batch in flight is settled, and marks what was confirmed. */
  async close(): Promise<void> {
    this.writeOut();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flushing;
    if (this.confirmed > this.markedSent) this.markSent(this.confirmed);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
