/**
 * The server's and the agent's log: lines logged in one turn are written together, in
 * order, and nothing pending is lost when the process exits right after logging.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { logDestination } from '../src/logging/log-destination.ts';

function tempFile(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'log');
}

test('lines of one turn are written together at its end, in order, each whole', async (t) => {
  const file = tempFile(t);
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const logger = pino({ base: null }, logDestination(fd));
  for (let i = 0; i < 500; i++) logger.info({ i }, 'request completed');
  // Not yet written: the turn has not ended (the 500 lines are far below the 64 KiB that forces a write).
  t.is(readFileSync(file, 'utf8'), '');
  await new Promise((resolve) => setImmediate(resolve));
  const lines = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((l) => l.i),
    Array.from({ length: 500 }, (_, i) => i),
  );
});

test('a large burst is written as it grows, not held until the turn ends', (t) => {
  const file = tempFile(t);
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const logger = pino({ base: null }, logDestination(fd));
  const text = 'x'.repeat(1000);
  for (let i = 0; i < 200; i++) logger.info({ i, text });
  const written = readFileSync(file, 'utf8').trimEnd().split('\n');
  t.true(written.length >= 64, `${written.length} lines written before the turn ended`);
  t.is(JSON.parse(written[0]).i, 0);
});

test('what is pending is written when the process exits right after logging (also on an uncaught exception)', (t) => {
  const file = tempFile(t);
  const moduleUrl = new URL('../src/logging/log-destination.ts', import.meta.url).href;
  for (const ending of ['process.exit(3)', 'throw new Error("boom")']) {
    const script = `
      import { openSync } from 'node:fs';
      const { logDestination } = await import(${JSON.stringify(moduleUrl)});
      const destination = logDestination(openSync(${JSON.stringify(file)}, 'w'));
      for (let i = 0; i < 100; i++) destination.write(JSON.stringify({ i }) + '\\n');
      ${ending};`;
    try {
      execFileSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { stdio: 'pipe' });
      t.fail('the script should have exited with an error');
    } catch (err) {
      t.not((err as { status: number }).status, 0);
    }
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    t.is(lines.length, 100, `after ${ending}`);
    t.is(JSON.parse(lines[99]).i, 99);
  }
});
