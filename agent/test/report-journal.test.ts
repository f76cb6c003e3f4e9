/**
 * The report journal writes the reports of one event-loop turn in one append, sends only
 * what is on disk, and after a crash replays every report written, in order, without one
 * the transport confirmed.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentReport } from '@sprout/kernel';
import { ReportJournal } from '../src/report-journal.ts';

const identity = { agentId: 'agent-1', siteId: 'site-1' };

function dataDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const lines = (dir: string) =>
  readFileSync(join(dir, 'reports.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AgentReport);

test('reports of one turn reach the disk together, and are sent only once they are there', async (t) => {
  const dir = dataDir(t);
  const sent: number[][] = [];
  const journal = new ReportJournal(dir, identity, async (reports) => void sent.push(reports.map((r) => r.sequence)));
  t.teardown(() => journal.close());
  for (let i = 0; i < 3; i++) journal.add('event', { i });
  t.throws(() => readFileSync(join(dir, 'reports.jsonl')), { code: 'ENOENT' }, 'nothing is written before the turn ends');
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(
    lines(dir).map((r) => r.sequence),
    [1, 2, 3],
  );
  await journal.flush();
  t.deepEqual(sent, [[1, 2, 3]]);
  t.is(journal.backlog, 0);
});

test('what was confirmed is not sent again after a clean stop', async (t) => {
  const dir = dataDir(t);
  const journal = new ReportJournal(dir, identity, async () => undefined);
  for (let i = 0; i < 3; i++) journal.add('event', { i });
  await new Promise((resolve) => setImmediate(resolve));
  await journal.flush();
  await journal.close();
  const sent: number[] = [];
  const restarted = new ReportJournal(dir, identity, async (reports) => void sent.push(...reports.map((r) => r.sequence)));
  t.teardown(() => restarted.close());
  t.is(restarted.backlog, 0);
  restarted.add('event', {});
  await new Promise((resolve) => setImmediate(resolve));
  await restarted.flush();
  t.deepEqual(sent, [4]);
});

test('once the confirmed reports are forgotten (the file emptied in place), the next ones start the file again, whole', async (t) => {
  const dir = dataDir(t);
  const journal = new ReportJournal(dir, identity, async () => undefined);
  t.teardown(() => journal.close());
  // 1000 confirmed with none pending: the journal empties its file (markEvery).
  for (let i = 0; i < 1000; i++) journal.add('event', { i });
  journal.writeOut();
  await journal.flush();
  t.is(readFileSync(join(dir, 'reports.jsonl'), 'utf8'), '');
  journal.add('event', { after: true });
  journal.writeOut();
  // A descriptor writing at its old offset would leave 1000 lines' worth of NUL bytes first.
  const text = readFileSync(join(dir, 'reports.jsonl'), 'utf8');
  t.true(text.startsWith('{'), JSON.stringify(text.slice(0, 20)));
  t.deepEqual(
    lines(dir).map((r) => r.sequence),
    [1001],
  );
});

test('writeOut puts what was added on disk at once, for a durable step that depends on it', (t) => {
  const dir = dataDir(t);
  const journal = new ReportJournal(dir, identity, () => new Promise(() => {}));
  journal.add('task.started', {}, 'item-1');
  journal.add('task.succeeded', {}, 'item-1');
  journal.writeOut();
  t.deepEqual(
    lines(dir).map((r) => r.kind),
    ['task.started', 'task.succeeded'],
  );
});

test('after a SIGKILL the written reports replay in order, without those never written', async (t) => {
  const dir = dataDir(t);
  // A child journals 1–3 in one turn and has them confirmed; journals 4–5 in the next turn,
  // whose send never returns; journals 6–7 and is killed before that turn ends: 6–7 were
  // never on disk, so never sent either, and their sequences are free again.
  const child = `
    import { ReportJournal } from ${JSON.stringify(new URL('../src/report-journal.ts', import.meta.url).pathname)};
    let confirmed = 0;
    const journal = new ReportJournal(${JSON.stringify(dir)}, ${JSON.stringify(identity)}, async (reports) => {
      if (confirmed++ > 0) return new Promise(() => {});
    });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    for (let i = 1; i <= 3; i++) journal.add('event', { i });
    await turn();
    await journal.flush();
    for (let i = 4; i <= 5; i++) journal.add('event', { i });
    await turn();
    void journal.flush();
    for (let i = 6; i <= 7; i++) journal.add('event', { i });
    process.kill(process.pid, 'SIGKILL');
  `;
  const killed = t.throws(() =>
    execFileSync(process.execPath, ['--conditions=sprout-source', '--import', 'tsx', '--input-type=module', '-e', child], { stdio: 'pipe' }),
  ) as Error & { signal?: string; stderr?: Buffer };
  t.is(killed?.signal, 'SIGKILL', killed?.stderr?.toString());
  const sent: AgentReport[] = [];
  const replay = new ReportJournal(dir, identity, async (reports) => void sent.push(...reports));
  t.teardown(() => replay.close());
  t.is(replay.add('event', { after: 'restart' }).sequence, 6, 'sequences go on after the last one written');
  await new Promise((resolve) => setImmediate(resolve));
  await replay.flush();
  // 1–3 were confirmed but not yet marked: sent again, which the control plane applies once.
  t.deepEqual(
    sent.map((r) => [r.sequence, r.payload.i ?? r.payload.after]),
    [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 'restart'],
    ],
  );
});

test('a report the control plane would refuse as malformed is set aside, not sent, and the later ones are', async (t) => {
  const dir = dataDir(t);
  const sent: AgentReport[] = [];
  const journal = new ReportJournal(dir, identity, async (reports) => void sent.push(...reports));
  t.teardown(() => journal.close());
  journal.add('dhcp.lease', { mac: '52:54:00:00:00:01', address: '198.18.0.10', state: 'bound', expiresAt: 'not-a-date' });
  journal.add('dhcp.lease', { mac: '52:54:00:00:00:01', address: '198.18.0.10', state: 'bound', expiresAt: new Date().toISOString() });
  await new Promise((resolve) => setImmediate(resolve));
  await journal.flush();
  t.deepEqual(
    sent.map((r) => [r.sequence, r.payload.expiresAt === 'not-a-date']),
    [[1, false]],
  );
  t.is(journal.backlog, 0);
  t.is(journal.rejected, 1);
  t.regex(journal.lastRejection, /^dhcp\.lease: \/payload\/expiresAt must match format "date-time"/);
  const [rejected] = readFileSync(join(dir, 'reports.rejected.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  t.is(rejected.report.payload.expiresAt, 'not-a-date');
});
